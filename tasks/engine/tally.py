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
from tasks.engine.ports import BudgetHold
from tasks.observability import metrics, spans

log = structlog.get_logger("tasks.engine.chain")  # the name these lines always logged under
# Tokens a re-ask adds beyond the last answer: the validator's messages, at most
# MAX_VIOLATIONS lines of about 40 tokens (a path, the reason, an 80-character quote).
REASK_OVERHEAD = 200 + MAX_VIOLATIONS * 40


class Tally:
    """One transport attempt's calls: a hold and a ledger row before each call is sent.

    Each provider call holds its own worst case, taken with its ledger row just before it
    leaves (a re-ask's when it happens, not every re-ask up front), and settles to its cost
    with the row's completion when it answers (`CallLedger.open_held`, `close_held`).
    """

    def __init__(
        self, engine: Engine, model: str, chunk: int | None, est_in: int, max_out: int
    ) -> None:
        self.engine, self.model, self.chunk, self.est_in = engine, model, chunk, est_in
        self.model_cfg = engine.config.models[model]
        self.max_out = max_out
        self.actual_in = 0
        self.opened = 0
        # sent, no answer yet: row id (or -n for the n-th call when the ledger gave no id)
        # -> its hold and the amount held
        self.unanswered: dict[int, tuple[BudgetHold, Decimal]] = {}
        self.reasks = 0  # answers that failed parsing or validation (each caused a re-ask)

    def _one(self, index: int) -> Decimal:
        # Call `index` (0-based) resends the prompt plus each earlier answer and its errors.
        return worst_case_cost(
            model=self.model_cfg,
            input_tokens=self.est_in + index * (self.max_out + REASK_OVERHEAD),
            max_output_tokens=self.max_out,
            calls=1,
            day=self.engine.today(),
        )

    def next_cost(self) -> Decimal:
        """The worst case of the next call (its output no more than its own `max_tokens`)."""
        return self._one(self.opened)

    def open(self) -> int | None:
        """Hold the next call's worst case and open its ledger row (raising: not sent)."""
        reserved = self._one(self.opened)
        call_id, hold = self.engine.ledger.open_held(
            budget=self.engine.budget,
            provider=self.model_cfg.provider,
            model=self.model,
            chunk=self.chunk,
            reserved_usd=reserved,
        )
        self.opened += 1
        self.unanswered[call_id if call_id is not None else -self.opened] = (hold, reserved)
        return call_id

    def settle_rest(self) -> None:
        """Settle the calls that never answered, in full.

        Such a call keeps its in-flight row, which the reconciler closes as `unknown` at its
        worst case; settling the same amount keeps spend equal to the ledger.
        """
        held, self.unanswered = self.unanswered, {}
        for hold, reserved in held.values():
            bookkeep("budget_settle", hold.settle, reserved)

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
        key = record.call_id
        if key is None:  # no row id: the oldest such call answered first
            key = next((k for k in self.unanswered if k < 0), None)
        held = self.unanswered.pop(key, None) if key is not None else None
        billed = Billed(record, cost, self.chunk)
        # The provider answered: a ledger blip must not turn that into a retry. A row not
        # completed here stays at its reserved cost (the reconciler closes it as unknown),
        # and the hold settles to what the row will say (close_held does both).
        if held is None:
            bookkeep("ledger_close", self.engine.ledger.close, billed)
            return
        hold, reserved = held
        bookkeep("ledger_close", self.engine.ledger.close_held, billed, hold, cost, reserved)


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
