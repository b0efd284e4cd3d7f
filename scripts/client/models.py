"""Typed views of the API's answers: a batch (its status, and how it came out) and usage lines.

The client's methods return the JSON as the API sent it (dicts, so fields added later pass
through); these views read the fields a program usually wants, with types. A batch's
`status` is the API's own (queued, running, finished, cancelled: what GET /v1/batches
filters on); `outcome` is a finer word the client derives from the counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")  # a job's
TERMINAL = ("succeeded", "failed", "cancelled")
BATCH_STATUSES = ("queued", "running", "finished", "cancelled")  # a batch's, as the API says


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        return Decimal(0)


def _status_of(counts: Mapping[str, int], *, cancelled: bool, finished: bool) -> str:
    """The API's batch status rule (storage.batches.status_of), the first that holds."""
    if cancelled:
        return "cancelled"
    if finished:
        return "finished"
    return "running" if any(n for s, n in counts.items() if s != "queued") else "queued"


@dataclass(frozen=True)
class BatchSummary:
    """A batch as GET /v1/batches/{id} reports it."""

    id: str
    schema: str
    tier: str
    status: str  # the API's: queued, running, finished or cancelled
    total: int
    counts: dict[str, int]
    progress: float
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    created_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    finished_at: dt.datetime | None
    paused: bool  # the kill switch is on (older APIs do not say: False)
    lane: str = "realtime"  # the lane asked for: realtime, batch or auto (older APIs: realtime)

    @classmethod
    def from_api(cls, batch: Mapping[str, Any]) -> BatchSummary:
        """Read a batch answer; missing fields are zero or None."""
        usage = batch.get("usage") or {}
        counts = {s: int((batch.get("counts") or {}).get(s, 0)) for s in STATUSES}
        switch = batch.get("killswitch")
        cancelled_at = _when(batch.get("cancelled_at"))
        finished_at = _when(batch.get("finished_at"))
        status = str(batch.get("status") or "")
        if status not in BATCH_STATUSES:  # an API older than the field: its rule, applied here
            status = _status_of(
                counts, cancelled=cancelled_at is not None, finished=finished_at is not None
            )
        return cls(
            id=str(batch.get("id", "")),
            schema=str(batch.get("schema", "")),
            tier=str(batch.get("tier", "")),
            status=status,
            total=int(batch.get("total", 0)),
            counts=counts,
            progress=float(batch.get("progress", 0.0)),
            input_tokens=int(usage.get("input_tokens", 0)),
            output_tokens=int(usage.get("output_tokens", 0)),
            cost_usd=_money(usage.get("cost_usd")),
            created_at=_when(batch.get("created_at")),
            cancelled_at=cancelled_at,
            finished_at=finished_at,
            paused=bool(isinstance(switch, Mapping) and switch.get("on")),
            lane=str(batch.get("lane") or "realtime"),
        )

    @property
    def done(self) -> int:
        """Jobs in a terminal status."""
        return sum(self.counts[s] for s in TERMINAL)

    @property
    def outcome(self) -> str:
        """The client's finer word for the batch (see `batch_outcome`)."""
        return batch_outcome(self)


def batch_outcome(batch: BatchSummary | Mapping[str, Any]) -> str:
    """One word for how a batch is doing, from its counts and timestamps (not the API's).

    While open: `queued`, `running`, `paused` (the kill switch is on) or `cancelling`; once
    finished: `succeeded`, `partial` (some jobs failed or were cancelled), `failed` (none
    succeeded) or `cancelled`.
    """
    b = batch if isinstance(batch, BatchSummary) else BatchSummary.from_api(batch)
    c = b.counts
    if b.finished_at is None:
        if b.cancelled_at is not None:
            return "cancelling"
        if b.paused:
            return "paused"
        return "running" if c["running"] or b.done else "queued"
    if c["failed"] == 0 and c["cancelled"] == 0:
        return "succeeded"
    if c["succeeded"] == 0:
        return "cancelled" if c["failed"] == 0 or b.cancelled_at is not None else "failed"
    return "partial"


@dataclass(frozen=True)
class UsageLine:
    """The provider calls of one day, model, tier and lane."""

    day: str
    model: str
    tier: str
    lane: str
    calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal

    @classmethod
    def from_api(cls, line: Mapping[str, Any]) -> UsageLine:
        """Read one `by_day` line of GET /v1/usage (no `lane`: the realtime lane)."""
        return cls(
            day=str(line.get("day", "")),
            model=str(line.get("model", "")),
            tier=str(line.get("tier", "")),
            lane=str(line.get("lane") or "realtime"),
            calls=int(line.get("calls", 0)),
            input_tokens=int(line.get("input_tokens", 0)),
            output_tokens=int(line.get("output_tokens", 0)),
            cached_tokens=int(line.get("cached_tokens", 0)),
            cost_usd=_money(line.get("cost_usd")),
        )
