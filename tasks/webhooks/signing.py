"""Webhook signatures: Standard Webhooks, and the deprecated `Docqueue-Signature` beside it.

Standard Webhooks (https://www.standardwebhooks.com, what Svix's libraries verify):
`webhook-id` (the delivery id, the same on every retry), `webhook-timestamp` (unix seconds
of the attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of f"{id}.{timestamp}.{body}">`,
signed by the `standardwebhooks` library. Its secret is `standard_secret(...)`: `whsec_` and
the base64 of the tenant's stored secret, so both schemes sign with the same key bytes and
the one stored secret serves both, with nothing to migrate.

Deprecated (kept for one release): `Docqueue-Signature: t=<unix>,v1=<hex>`, an HMAC-SHA256
of f"{t}.{body}" under the same key; `verify` is its reference check.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any

from standardwebhooks import Webhook

SIGNATURE_HEADER = "Docqueue-Signature"  # deprecated: Standard Webhooks' headers replace it
DELIVERY_HEADER = "Docqueue-Delivery"  # deprecated: `webhook-id` carries the same id
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


def _key(secret: str) -> bytes:
    """The HMAC key of both schemes: the stored secret's UTF-8 bytes."""
    return secret.encode()


def standard_secret(secret: str) -> str:
    """The stored secret as Standard Webhooks libraries take it: `whsec_<base64 of its key>`."""
    return SECRET_PREFIX + base64.b64encode(_key(secret)).decode()


def standard_headers(*, secret: str, msg_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, sent as `msg_id` at `timestamp`."""
    # The library signs text: `encode` makes ASCII JSON, so decoding gives back the same bytes.
    signature = Webhook(_key(secret)).sign(
        msg_id, dt.datetime.fromtimestamp(timestamp, tz=dt.UTC), body.decode()
    )
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: signature,
    }


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The deprecated `Docqueue-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    *, secret: str, body: bytes, header: str, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """Whether a deprecated `Docqueue-Signature` header signs `body` within tolerance."""
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
    """The exact bytes sent and signed (ASCII JSON: non-ASCII characters are escaped)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
