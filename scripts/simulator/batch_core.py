"""What both batch APIs share: per-item outcomes, the processing timeline, answering an item.

An item's fate is a pure function of (seed, custom_id, knob), so a test can predict it and a
resubmitted item (a new custom_id) draws again. Items finish one after another across the
processing window; an item drawn "expired" never finishes, so its batch runs to the end.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from scripts.simulator.calls import Answer, WireError
from scripts.simulator.prefix_cache import cached_in

if TYPE_CHECKING:
    from scripts.simulator.app import Provider, Simulator
    from scripts.simulator.state import SimState

Fate = Literal["succeeded", "errored", "expired"]
Kind = Literal["succeeded", "errored", "expired", "canceled"]
DAY_S = 24 * 3600
VALIDATE_SHARE = 0.1  # of the delay: validating (OpenAI) before items start
FINALIZE_SHARE = 0.1  # of the delay: finalizing after the last item
_SCALE = float(1 << 64)


def draw(seed: int, custom_id: str, knob: str) -> float:
    """A uniform number in [0, 1) fixed by the seed, the item and the knob it decides."""
    digest = hashlib.sha256(f"{seed}\0{knob}\0{custom_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True)
class Outcome:
    """What the simulator will do with one item: answer it (maybe invalid), fail it, expire it."""

    fate: Fate
    invalid: bool


def outcome(state: SimState, custom_id: str) -> Outcome:
    """The item's outcome under the batch knobs; each knob draws on its own."""
    if draw(state.seed, custom_id, "error") < state.batch_error_rate:
        return Outcome("errored", invalid=False)
    if draw(state.seed, custom_id, "expire") < state.batch_expire_rate:
        return Outcome("expired", invalid=False)
    return Outcome("succeeded", draw(state.seed, custom_id, "invalid") < state.batch_invalid_rate)


@dataclass
class Settled:
    """One item's final result: its kind, HTTP status and wire body, and its usage if billed."""

    kind: Kind
    status: int | None = None
    body: Any = None
    answer: Answer | None = None


@dataclass
class Job:
    """The provider-neutral part of a batch: its items, timeline and what has settled so far."""

    provider: str
    batch_id: str
    items: list[tuple[str, Any]]  # (custom_id, request body) in input order
    delay_s: float
    validates: bool  # OpenAI has a validating phase; Anthropic starts processing at once
    created: float = field(default_factory=time.time)
    cancel_at: float | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    settled: dict[int, Settled] = field(default_factory=dict)
    done: bool = False

    @property
    def start(self) -> float:
        """When processing begins (validation over)."""
        return self.created + (self.delay_s * VALIDATE_SHARE if self.validates else 0.0)

    @property
    def finalize(self) -> float:
        """When the last item has been answered."""
        return self.created + self.delay_s * (1.0 - FINALIZE_SHARE)

    @property
    def end(self) -> float:
        """When processing ends: the delay after creation, or soon after a cancel."""
        natural = self.created + self.delay_s
        if self.cancel_at is None:
            return natural
        return min(natural, self.cancel_at + self.delay_s * FINALIZE_SHARE)

    def item_due(self, index: int) -> float:
        """When item `index` finishes, the items spread evenly over the processing window."""
        span = self.finalize - self.start
        return self.start + span * (index + 1) / max(1, len(self.items))

    def ended(self, now: float) -> bool:
        """Whether processing has ended by `now`."""
        return now >= self.end

    def cancel(self, now: float) -> None:
        """Start cancelling: items not finished by now will be canceled."""
        if self.cancel_at is None and not self.ended(now):
            self.cancel_at = now


def advance(job: Job, sim: Simulator, provider: Provider, now: float | None = None) -> None:
    """Settle every item whose time has come; at the end, the rest are expired or canceled."""
    if job.done:
        return
    now = time.time() if now is None else now
    if not job.outcomes:
        job.outcomes = [outcome(sim.state, cid) for cid, _ in job.items]
    horizon = now if job.cancel_at is None else min(now, job.cancel_at)
    for index in range(len(job.items)):
        if index in job.settled or job.outcomes[index].fate == "expired":
            continue
        if job.item_due(index) > horizon:
            break
        job.settled[index] = _answer(sim, provider, job, index)
    if not job.ended(now):
        return
    for index in range(len(job.items)):
        if index not in job.settled:
            kind: Kind = "canceled" if job.cancel_at is not None else "expired"
            job.settled[index] = Settled(kind)
            _count(sim, kind)
    job.done = True


def _answer(sim: Simulator, provider: Provider, job: Job, index: int) -> Settled:
    """The item's result, built exactly as the realtime endpoint builds its answer."""
    custom_id, body = job.items[index]
    fate = job.outcomes[index]
    try:
        call = provider.parse(body)
    except WireError as exc:
        _count(sim, "errored")
        return Settled(
            "errored", exc.status, provider.error_body(exc.status, exc.message, exc.param)
        )
    if fate.fate == "errored":
        _count(sim, "errored")
        return Settled("errored", 500, provider.error_body(500, None, None))
    answer, payload = sim.rendered(provider, call, fate.invalid)
    _count(sim, "succeeded")
    sim.stats.batch_billed.append(
        {
            "provider": job.provider,
            "batch_id": job.batch_id,
            "custom_id": custom_id,
            "model": call.model,
            "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens,
            "cached_tokens": cached_in(payload),
        }
    )
    return Settled("succeeded", 200, payload, answer)


def _count(sim: Simulator, kind: str) -> None:
    items = sim.stats.batch_items
    items[kind] = items.get(kind, 0) + 1


def iso(ts: float | None) -> str | None:
    """An RFC 3339 UTC timestamp (Anthropic's format), or None."""
    if ts is None:
        return None
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{stamp}.{int((ts % 1) * 1_000_000):06d}Z"
