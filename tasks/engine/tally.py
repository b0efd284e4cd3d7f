"""One transport attempt's bookkeeping: ledger rows opened before each call, each answer priced."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import structlog

from schemas.extractors.validation import MAX_VIOLATIONS
from tasks.engine.cost import call_cost, worst_case_cost
from tasks.engine.llm import CallRecord
from tasks.engine.models import Billed, Engine
from tasks.observability import metrics, spans

log = structlog.get_logger("tasks.engine.chain")  # the name these lines always logged under
# Tokens a re-ask adds beyond the last answer: the validator's messages, at most
# MAX_VIOLATIONS lines of about 40 tokens (a path, the reason, an 80-character quote).
REASK_OVERHEAD = 200 + MAX_VIOLATIONS * 40


class Tally:
    """One transport attempt's calls: opens each row before it is sent, prices each answer."""

    def __init__(
        self, engine: Engine, model: str, chunk: int | None, est_in: int, max_out: int
    ) -> None:
        self.engine, self.model, self.chunk, self.est_in = engine, model, chunk, est_in
        self.model_cfg = engine.config.models[model]
        self.max_out = max_out
        self.spent = Decimal(0)
        self.actual_in = 0
        self.opened = 0
        self.unanswered: dict[int, Decimal] = {}  # sent, no answer yet: row id -> reserved
        self.reasks = 0  # answers that failed parsing or validation (each caused a re-ask)

    @property
    def owed(self) -> Decimal:
        """What the hold settles to: the answered calls, and the worst case of the rest.

        A call that never answered keeps its in-flight row, which the reconciler closes as
        `unknown` at that worst case; settling the same amount keeps spend equal to the ledger.
        """
        return self.spent + sum(self.unanswered.values(), Decimal(0))

    def _one(self, index: int) -> Decimal:
        # Call `index` (0-based) resends the prompt plus each earlier answer and its errors.
        return worst_case_cost(
            model=self.model_cfg,
            input_tokens=self.est_in + index * (self.max_out + REASK_OVERHEAD),
            max_output_tokens=self.max_out,
            calls=1,
            day=self.engine.today(),
        )

    def worst(self, *, calls: int) -> Decimal:
        """The most `calls` answers (the first and its re-asks) can cost: the hold."""
        return sum((self._one(i) for i in range(calls)), Decimal(0))

    def open(self) -> int | None:
        """Open the next call's ledger row at its worst case (a re-ask resends more)."""
        reserved = self._one(self.opened)
        self.opened += 1
        call_id = self.engine.ledger.open(
            provider=self.model_cfg.provider,
            model=self.model,
            chunk=self.chunk,
            reserved_usd=reserved,
        )
        if call_id is not None:
            self.unanswered[call_id] = reserved
        return call_id

    def sink(self, record: CallRecord) -> None:
        """Price an answered call and complete its ledger row."""
        if record.replayed:  # answered from the tape: billed when the batcher recorded it
            invalid = record.outcome == "validation_error"
            self.reasks += invalid
            if invalid and record.call_id is not None:  # the batcher could not know that
                bookkeep(
                    "ledger_judge",
                    self.engine.ledger.judged,
                    call_id=record.call_id,
                    outcome=record.outcome,
                )
            return
        cost = call_cost(model=self.model_cfg, usage=record.usage, day=self.engine.today())
        self.actual_in += record.usage.input_tokens
        self.reasks += record.outcome == "validation_error"
        metrics.record_call(record, cost)
        spans.record_call(record, cost)
        reserved = self.unanswered.pop(record.call_id, None) if record.call_id is not None else None
        # The provider answered: a ledger blip must not turn that into a retry. A row not
        # completed here stays at its reserved cost (the reconciler closes it as unknown),
        # and the hold settles to what the row will say.
        closed = bookkeep(
            "ledger_close", self.engine.ledger.close, Billed(record, cost, self.chunk)
        )
        self.spent += cost if closed is not False or reserved is None else reserved


def bookkeep(step: str, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one post-call bookkeeping step; a failure is logged and counted, never raised.

    Once the provider has answered, the call happened and is billed: a Redis or Postgres
    blip here must not turn that answer into a retry (a second, billed call). Leases and
    buckets heal by their TTLs; a settle that failed is closed by the reconciler. Returns
    the step's result, or False when it failed.
    """
    try:
        return action(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the engine sees ports, not their backends' errors
        metrics.BOOKKEEPING_FAILURES.labels(step=step).inc()
        log.warning("bookkeeping_failed", step=step, error=type(exc).__name__)
        return False
