"""The model chain: walk a tier's fallback models, each with transport retries.

Every outside service arrives through `Engine`'s ports (tasks/engine/ports.py).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError

from schemas.config import Tier
from schemas.extractors.validation import MAX_VIOLATIONS
from schemas.trust.envelope import is_envelope
from tasks.documents.tokens import estimate_tokens
from tasks.engine.cost import call_cost, worst_case_cost
from tasks.engine.llm import CallRecord
from tasks.engine.models import Billed, Engine
from tasks.engine.retry import backoff_s, classify
from tasks.errors import CircuitOpen, ProviderError, TaskError, ValidationFailed
from tasks.observability import metrics, spans

log = structlog.get_logger(__name__)
CIRCUIT_POLL_S = 0.5  # every model circuit-open: how often to look for a half-open probe
# Tokens a re-ask adds beyond the last answer: the validator's messages, at most
# MAX_VIOLATIONS lines of about 40 tokens (a path, the reason, an 80-character quote).
REASK_OVERHEAD = 200 + MAX_VIOLATIONS * 40


@functools.lru_cache(maxsize=512)
def schema_tokens(response_model: type[BaseModel]) -> int:
    """Tokens the tool definition of `response_model` adds to a call, plus the framing."""
    schema = json.dumps(response_model.model_json_schema(), separators=(",", ":"))
    return estimate_tokens(schema) + 200


@dataclass
class CallStats:
    """What a caller learns beyond the answer: how many re-asks it took (a trust signal)."""

    reasks: int = 0


def call_chain(
    *,
    engine: Engine,
    tier: Tier,
    messages: list[dict[str, str]],
    response_model: type[BaseModel],
    chunk: int | None,
    deadline: float,
    stats: CallStats | None = None,
) -> tuple[BaseModel, str]:
    """Try each model of the tier's chain in order; the first success wins."""
    attempts = 0
    while True:
        last: TaskError | None = None
        only_open_circuits = True
        for model in engine.config.tiers[tier].models:
            engine.killswitch.check()  # before the breaker, so a pause never strands its probe
            if not engine.breaker.allow(model=model):
                last = last or CircuitOpen(f"{model}: circuit open", attempts=attempts)
                continue
            try:
                with structlog.contextvars.bound_contextvars(model=model):  # on every log line
                    return call_model(
                        engine=engine,
                        tier=tier,
                        model=model,
                        messages=messages,
                        response_model=response_model,
                        chunk=chunk,
                        deadline=deadline,
                        stats=stats,
                    ), model
            except ValidationFailed:
                raise  # the document, not the provider, is the problem: no model will help
            except ProviderError as exc:
                attempts += exc.attempts
                only_open_circuits = only_open_circuits and isinstance(exc, CircuitOpen)
                last = type(exc)(
                    f"{model}: {exc.message}", attempts=attempts, last_status=exc.last_status
                )
        if not only_open_circuits or engine.clock() + CIRCUIT_POLL_S > deadline:
            raise last or ProviderError("no model available", attempts=attempts)
        # Every circuit is open: wait for a half-open probe, not fail over a passing outage.
        engine.sleep(CIRCUIT_POLL_S)


def call_model(
    *,
    engine: Engine,
    tier: Tier,
    model: str,
    messages: list[dict[str, str]],
    response_model: type[BaseModel],
    chunk: int | None,
    deadline: float,
    stats: CallStats | None = None,
) -> BaseModel:
    """Call one model with transport retries (full-jitter backoff, retry-after honoured)."""
    cfg = engine.config
    model_cfg = cfg.models[model]
    tier_cfg = cfg.tiers[tier]
    # The tool definition rides along with every call: a tenant schema may be most of it.
    est_in = sum(estimate_tokens(m["content"]) for m in messages) + schema_tokens(response_model)
    # Quotes ride along with an enveloped answer: it may run longer (and is reserved so).
    factor = cfg.trust.evidence_output_factor if is_envelope(response_model) else 1.0
    max_out = int(tier_cfg.max_output_tokens * factor)
    status: int | None = None
    for attempt in range(1, cfg.retry.max_attempts + 1):
        engine.killswitch.check()
        # A retry is a new call: once the breaker opened (or this call was the half-open
        # probe and failed), fail over instead of hammering a model known to be down.
        if attempt > 1 and not engine.breaker.allow(model=model):
            raise CircuitOpen(
                f"circuit opened after {attempt - 1} attempts",
                attempts=attempt - 1,
                last_status=status,
            )
        tally = _Tally(engine, model, chunk, est_in, max_out)
        hold = engine.budget.reserve(tally.worst(calls=tier_cfg.max_reasks + 1))
        try:
            engine.rate.take(key=model, tokens=est_in, per_minute=model_cfg.tokens_per_minute)
            with (
                engine.limiter.slot(key=model, cap=model_cfg.concurrency),
                spans.provider_call(model=model, provider=model_cfg.provider, attempt=attempt),
            ):
                parsed = engine.extract(
                    provider=model_cfg.provider,
                    model=model,
                    messages=messages,
                    response_model=response_model,
                    max_reasks=tier_cfg.max_reasks,
                    max_output_tokens=max_out,
                    sink=tally.sink,
                    opener=tally.open,
                )
        except ValidationError as exc:
            # the provider answered; it is healthy
            _bookkeep("breaker_record", engine.breaker.record, model=model, ok=True)
            raise ValidationFailed(
                f"answer failed validation after {tier_cfg.max_reasks} re-asks: {brief(exc)}",
                attempts=attempt,
            ) from exc
        except TaskError:
            raise
        except Exception as exc:
            failure = classify(exc)
            status = failure.status
            if failure.kind == "validation":
                raise ValidationFailed(failure.detail, attempts=attempt) from exc
            _bookkeep(
                "breaker_record", engine.breaker.record, model=model, ok=not failure.retryable
            )
            if not failure.retryable:
                raise ProviderError(
                    f"{failure.kind} (not retried): {failure.detail}",
                    attempts=attempt,
                    last_status=status,
                ) from exc
            delay = backoff_s(
                attempt=attempt,
                base_s=cfg.retry.base_delay_s,
                cap_s=cfg.retry.max_delay_s,
                retry_after_s=failure.retry_after_s,
            )
            if attempt == cfg.retry.max_attempts or engine.clock() + delay > deadline:
                raise ProviderError(
                    f"gave up after {attempt} attempts: {failure.kind}",
                    attempts=attempt,
                    last_status=status,
                ) from exc
            engine.sleep(delay)
        else:
            _bookkeep("breaker_record", engine.breaker.record, model=model, ok=True)
            if stats is not None:
                stats.reasks += tally.reasks
            return parsed
        finally:
            _bookkeep("budget_settle", hold.settle, tally.owed)
            if tally.actual_in:
                _bookkeep(
                    "bucket_correct",
                    engine.rate.correct,
                    key=model,
                    estimated=est_in,
                    actual=tally.actual_in,
                    per_minute=model_cfg.tokens_per_minute,
                )
    raise ProviderError("retries exhausted", attempts=cfg.retry.max_attempts, last_status=status)


class _Tally:
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
        cost = call_cost(model=self.model_cfg, usage=record.usage, day=self.engine.today())
        self.actual_in += record.usage.input_tokens
        self.reasks += record.outcome == "validation_error"
        metrics.record_call(record, cost)
        spans.record_call(record, cost)
        reserved = self.unanswered.pop(record.call_id, None) if record.call_id is not None else None
        # The provider answered: a ledger blip must not turn that into a retry. A row not
        # completed here stays at its reserved cost (the reconciler closes it as unknown),
        # and the hold settles to what the row will say.
        closed = _bookkeep(
            "ledger_close", self.engine.ledger.close, Billed(record, cost, self.chunk)
        )
        self.spent += cost if closed is not False or reserved is None else reserved


def _bookkeep(step: str, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
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


def brief(exc: ValidationError) -> str:
    """The first validation error, short enough for a job's error message.

    "<n> error(s); first: <field path> [<error type>]: <message>". The message may quote the
    document (it is the tenant's to read); logs keep only what precedes it
    (tasks.worker.finished).
    """
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    loc = tuple(first.get("loc", ()))
    if loc[:1] == ("data",):  # the evidence envelope's slot: paths are the extractor's own
        loc = loc[1:]
    where = ".".join(str(p) for p in loc) or "(root)"
    kind = first.get("type", "unknown")
    return f"{len(errors)} error(s); first: {where} [{kind}]: {first.get('msg', '')}"[:500]
