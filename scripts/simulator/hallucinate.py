"""Hallucinations on request: grounded leaves given plausible values the document never states.

The rate comes from the document directive [[sim:hallucinate=RATE]] or, without one, from the
environment variable DOCQUEUE_SIM_HALLUCINATE (read when the simulator app is created).

Which leaves are altered is `decide`, a pure function of the leaf's pointer, its true value
(`value_key`) and the sample number, so tests outside the simulator compute the exact
expected errors. A leaf is considered when it is grounded (has a real quote) and is not one
of the figures the totals rules tie together (line quantity, unit_price and amount; subtotal,
tax, total), which would fail a validator. A leaf whose schema allows no other value (a
one-member enum, a pinned number) stays true even when `decide` picks it.

- "invented": a new value not in the document, and a fabricated quote (its label followed
  by the new value) that is not in the document either;
- "wrong_value": a new value not in the document, with the real, verbatim quote.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Literal

from scripts.simulator.coerce import is_iso_date
from scripts.simulator.grounding import Found
from scripts.simulator.inventions import Context, invent, render

RATE_ENV = "DOCQUEUE_SIM_HALLUCINATE"
Kind = Literal["invented", "wrong_value"]
_SCALE = float(1 << 64)

__all__ = ["RATE_ENV", "Kind", "decide", "env_rate", "hallucinate", "value_key"]


def env_rate(environ: Mapping[str, str] | None = None) -> float:
    """The server-wide rate from DOCQUEUE_SIM_HALLUCINATE (0 when unset or not a number)."""
    raw = (os.environ if environ is None else environ).get(RATE_ENV, "")
    try:
        rate = float(raw)
    except ValueError:
        return 0.0
    return 0.0 if math.isnan(rate) else min(1.0, max(0.0, rate))


def value_key(value: Any) -> str:
    """The text `decide` hashes for a value: a string as is, anything else as compact JSON.

    E.g. "INV-2041", "2026-03-01", 150.54 -> "150.54", 3.0 -> "3.0", True -> "true".
    """
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decide(path: str, true_value: str, rate: float, sample: int = 1) -> Kind | None:
    """Whether the leaf at `path` is hallucinated, and how (None: it stays true).

    sha256 of f"{path}|{true_value}|{sample}": its first 8 bytes as a fraction of 2**64
    below `rate` mean hallucinate; the low bit of byte 8 picks the kind (0 invented,
    1 wrong_value). `true_value` is `value_key` of the grounded value; `sample` is the
    self-consistency sample number (1 when the prompt names none).
    """
    digest = hashlib.sha256(f"{path}|{true_value}|{sample}".encode()).digest()
    if int.from_bytes(digest[:8], "big") / _SCALE >= rate:
        return None
    return "invented" if digest[8] & 1 == 0 else "wrong_value"


def fabricate(label: str, value: Any, text: str) -> str:
    """A quote stating `value` under `label` that the document does not contain."""
    shown = render(value)
    shapes = [f"{label}: {shown}", f"{label} {shown}", f"{label} - {shown}"] if label else []
    shapes += [shown, f"{shown} (stated)"]
    return next((q for q in shapes if q not in text), f"{shown} [{len(text)}]")


def hallucinate(
    data: Any,
    found: dict[str, Found],
    *,
    rate: float,
    sample: int,
    text: str,
    bound: set[str],
    valid: Callable[[dict[str, Any], Any], bool],
    resolve: Callable[[Any], dict[str, Any]],
) -> dict[str, Kind]:
    """Alter `data` and `found` in place as `decide` says; returns the kind per pointer."""
    altered: dict[str, Kind] = {}
    if rate <= 0:
        return altered
    context = Context(text, resolve)
    for path, leaf in list(found.items()):
        key = value_key(leaf.value)
        kind = None if path in bound else decide(path, key, rate, sample)
        if kind is None:
            continue
        window = _date_window(data, path)
        fake = invent(leaf, f"{path}|{key}|{sample}", context, window, valid)
        if fake is None:
            continue
        _put(data, path, fake)
        quote = leaf.quote if kind == "wrong_value" else fabricate(leaf.label, fake, text)
        found[path] = replace(leaf, value=fake, quote=quote)
        altered[path] = kind
    return altered


def _steps(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _parent(data: Any, path: str) -> tuple[Any, str | int] | None:
    node = data
    steps = _steps(path)
    for step in steps[:-1]:
        node = node[int(step)] if isinstance(node, list) else node.get(step)
        if node is None:
            return None
    last = steps[-1] if steps else ""
    return node, int(last) if isinstance(node, list) else last


def _put(data: Any, path: str, value: Any) -> None:
    found = _parent(data, path)
    if found is not None:
        found[0][found[1]] = value


def _date_window(data: Any, path: str) -> tuple[str | None, str | None]:
    """The dates before and after a leaf in its object: an invented date stays between."""
    found = _parent(data, path)
    if found is None or not isinstance(found[0], dict):
        return None, None
    obj, key = found
    names = list(obj)
    at = names.index(key) if key in names else 0
    dates = [(i, v) for i, v in enumerate(obj.values()) if is_iso_date(v)]
    low = max((v for i, v in dates if i < at), default=None)
    high = min((v for i, v in dates if i > at), default=None)
    value = obj.get(key)
    # Where the document's own dates are out of order no validator passes anyway: no bound.
    if low is not None and isinstance(value, str) and low > value:
        low = None
    if high is not None and isinstance(value, str) and high < value:
        high = None
    return low, high
