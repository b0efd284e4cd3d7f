"""One attempt's ledger: the engine's `CallLedger` over the job store."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from storage.ledger import CallResult, CallRow
from tasks.engine.models import Billed
from tasks.errors import LedgerUnavailable
from tasks.worker.ports import JobStore


class AttemptLedger:
    """Opens each call's row before it is sent and completes it when the call answers."""

    def __init__(
        self, *, store: JobStore, job_id: uuid.UUID, tenant_id: uuid.UUID, attempt: int, tier: str
    ) -> None:
        self._store, self._job_id, self._tenant_id = store, job_id, tenant_id
        self._attempt, self._tier = attempt, tier
        self._seq = itertools.count(1)

    def _row(self, *, provider: str, model: str, chunk: int | None, cost: Decimal) -> CallRow:
        return CallRow(
            job_id=self._job_id,
            tenant_id=self._tenant_id,
            attempt=self._attempt,
            seq=next(self._seq),
            tier=self._tier,
            provider=provider,
            model=model,
            chunk=chunk,
            input_tokens=0,
            output_tokens=0,
            cached_tokens=0,
            cost_usd=cost,
            latency_ms=0,
            outcome="in_flight",
            status_code=None,
        )

    def open(
        self, *, provider: str, model: str, chunk: int | None, reserved_usd: Decimal
    ) -> int | None:
        """Write the in-flight row; a store that refuses means the call must not go out."""
        row = self._row(provider=provider, model=model, chunk=chunk, cost=reserved_usd)
        try:
            return self._store.open_call(row=row)
        except Exception as exc:
            raise LedgerUnavailable(
                f"ledger row not written ({type(exc).__name__}); call not sent"
            ) from exc

    def close(self, billed: Billed) -> bool:
        """Complete the call's row (every sent call has one: `open` ran before it left)."""
        rec = billed.record
        if rec.call_id is None:
            return False
        result = CallResult(
            input_tokens=rec.usage.input_tokens,
            output_tokens=rec.usage.output_tokens,
            cached_tokens=rec.usage.cached_tokens,
            cache_write_tokens=rec.usage.cache_write_tokens,
            cost_usd=billed.cost_usd,
            latency_ms=rec.latency_ms,
            outcome=rec.outcome,
            status_code=rec.status_code,
        )
        return self._store.close_call(call_id=rec.call_id, result=result)

    def judged(self, *, call_id: int, outcome: str) -> None:
        """A replayed batch answer failed validation: its billed row says so."""
        self._store.judge_call(call_id=call_id, outcome=outcome)
