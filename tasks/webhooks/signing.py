"""Webhook signatures: `Docqueue-Signature: t=<unix>,v1=<hex>`, an HMAC-SHA256 of
f"{t}.{body}" under the tenant's webhook secret. `verify` is the reference check."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

SIGNATURE_HEADER = "Docqueue-Signature"


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    *, secret: str, body: bytes, header: str, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """Whether `header` signs `body` with `secret` and its timestamp is within tolerance."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False  # a replay of an old, validly signed body
    expected = sign(secret=secret, body=body, timestamp=timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
