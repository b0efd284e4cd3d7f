"""The model chain: walk a tier's fallback models, each with transport retries.

Every outside service arrives through `Engine`'s ports (tasks/engine/ports.py).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from decimal import Decimal

import structlog
from pydantic import BaseModel, ValidationError

from schemas.config import Tier
from schemas.trust.envelope import is_envelope
from tasks.documents.tokens import estimate_tokens
from tasks.engine.models import Engine
from tasks.engine.ports import BudgetHold
from tasks.engine.retry import backoff_s, classify
from tasks.engine.tally import Tally, bookkeep
from tasks.errors import BudgetExceeded, CircuitOpen, ProviderError, TaskError, ValidationFailed
from tasks.observability import spans

log = structlog.get_logger(__name__)
CIRCUIT_POLL_S = 0.5  # every model circuit-open: how often to look for a half-open probe
BUDGET_POLL_S = 0.5  # the budget is held by calls in flight: how often to try again


def reserve_waiting(engine: Engine, amount_usd: Decimal, deadline: float) -> BudgetHold:
    """Hold one call's worst case; while other calls hold the rest, wait for them to settle.

    Money held by calls in flight mostly comes back (a call's worst case is far above its
    usual cost), so failing then would leave budget unspent. With nothing held, or no time
    left, the refusal stands: it says what the call needs and what is left.
    """
    while True:
        try:
            return engine.budget.reserve(amount_usd)
        except BudgetExceeded as exc:
            if not exc.context.get("held") or engine.clock() + BUDGET_POLL_S > deadline:
                raise
        engine.sleep(BUDGET_POLL_S)
        engine.killswitch.check()  # the attempt checked it before; a long wait checks again


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
        tally = Tally(engine, model, chunk, est_in, max_out)
        # The first call's hold, before the slot: waiting for money must not hold a slot.
        tally.first = reserve_waiting(engine, tally.next_cost(), deadline)
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
            bookkeep("breaker_record", engine.breaker.record, model=model, ok=True)
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
            bookkeep("breaker_record", engine.breaker.record, model=model, ok=not failure.retryable)
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
            bookkeep("breaker_record", engine.breaker.record, model=model, ok=True)
            if stats is not None:
                stats.reasks += tally.reasks
            return parsed
        finally:
            bookkeep("budget_settle", tally.settle_rest)
            if tally.actual_in:
                bookkeep(
                    "bucket_correct",
                    engine.rate.correct,
                    key=model,
                    estimated=est_in,
                    actual=tally.actual_in,
                    per_minute=model_cfg.tokens_per_minute,
                )
    raise ProviderError("retries exhausted", attempts=cfg.retry.max_attempts, last_status=status)


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
