"""Fault decisions: per request, which error, hang, invalid answer and latency it gets."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Any

from scripts.simulator.state import SimState

_DIRECTIVE_RE = re.compile(r"\[\[sim:([a-z_]+)(?:=([^\]\s]*))?\]\]")
DOWN_STATUS = 503


@dataclass(frozen=True)
class Directives:
    """Per-document instructions found in the prompt text as [[sim:...]] markers."""

    invalid: bool = False
    invalid_once: bool = False
    status: int | None = None
    latency_ms: float | None = None
    timeout: bool = False
    fail_times: int | None = None  # the status (default 500) only for the first N requests
    mismatch: bool = False  # evidence envelopes: the document is not of the schema's kind
    hallucinate: float | None = None  # evidence envelopes: the rate of hallucinated leaves


@dataclass(frozen=True)
class Decision:
    """What one request gets: an error status, a hang, an invalid answer, a latency."""

    status: int | None
    hang_s: float
    invalid: bool
    latency_s: float


def parse_directives(text: str) -> Directives:
    """Read [[sim:invalid|invalid_once|timeout]], [[sim:status=N|latency_ms=N|fail_times=N]].

    Evidence envelopes also read [[sim:mismatch]] and [[sim:hallucinate=RATE]] (0..1).
    """
    if "[[sim:" not in text:  # the common case: one substring scan, no regex
        return Directives()
    invalid = invalid_once = timeout = False
    status: int | None = None
    latency: float | None = None
    fail_times: int | None = None
    extra: dict[str, Any] = {}
    for match in _DIRECTIVE_RE.finditer(text):
        name, value = match.group(1), match.group(2)
        if name == "invalid":
            invalid = True
        elif name == "invalid_once":
            invalid_once = True
        elif name == "timeout":
            timeout = True
        elif name == "fail_times" and value and value.isdigit():
            fail_times = int(value)
        elif name == "status" and value and value.isdigit():
            status = int(value)
        elif name == "latency_ms" and value:
            try:
                latency = max(0.0, float(value))
            except ValueError:
                continue
        else:
            extra |= _envelope_directive(name, value)
    return Directives(invalid, invalid_once, status, latency, timeout, fail_times, **extra)


def _envelope_directive(name: str, value: str | None) -> dict[str, Any]:
    """What [[sim:mismatch]] and [[sim:hallucinate=RATE]] set; nothing for other names."""
    if name == "mismatch":
        return {"mismatch": True}
    if name == "hallucinate" and value:
        try:
            rate = float(value)
        except ValueError:
            return {}
        return {} if math.isnan(rate) else {"hallucinate": min(1.0, max(0.0, rate))}
    return {}


def decide(
    state: SimState,
    model: str,
    directives: Directives,
    *,
    first_turn: bool,
    seen: int,
    rng: random.Random,
) -> Decision:
    """Decide a request's fate from the state, the model and the document's directives.

    `seen` is how many earlier requests carried the same document (for fail_times).
    """
    # Always draw the same numbers, so one seed gives one fault sequence whatever the config.
    roll_fault, roll_timeout, roll_invalid = rng.random(), rng.random(), rng.random()
    pick = rng.choice(state.fault_statuses) if state.fault_statuses else 500
    jitter = rng.uniform(-1.0, 1.0) * state.latency_jitter_ms

    status: int | None = None
    if model in state.down_models:
        status = DOWN_STATUS
    elif model in state.status_models:
        status = state.status_models[model]
    elif directives.fail_times is not None:
        if seen < directives.fail_times:
            status = directives.status if directives.status is not None else 500
    elif directives.status is not None:
        status = directives.status
    elif roll_fault < state.fault_rate:
        status = pick

    hangs = directives.timeout or roll_timeout < state.timeout_rate
    hang_s = state.timeout_hang_s if status is None and hangs else 0.0
    invalid = (
        directives.invalid
        or (directives.invalid_once and first_turn)
        or roll_invalid < state.invalid_rate
    )
    base_ms = directives.latency_ms if directives.latency_ms is not None else state.latency_ms
    return Decision(status, hang_s, invalid, max(0.0, base_ms + jitter) / 1000.0)


def retry_headers(status: int, rng: random.Random) -> dict[str, str]:
    """Retry hints the real APIs send with a 429: milliseconds and whole seconds."""
    if status != 429:
        return {}
    return {"retry-after-ms": str(rng.randint(50, 200)), "retry-after": "0"}
