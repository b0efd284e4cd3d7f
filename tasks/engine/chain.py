"""The model chain: walk a tier's fallback models, each with transport retries.

Every outside service arrives through `Engine`'s ports (tasks/engine/ports.py).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import structlog
from pydantic import BaseModel, ValidationError

from schemas.config import Tier
from schemas.trust.envelope import is_envelope
from tasks.documents.tokens import estimate_tokens
from tasks.engine.models import Engine
from tasks.engine.retry import CallFailure, backoff_s, classify
from tasks.engine.tally import Tally, bookkeep
from tasks.errors import BudgetExceeded, CircuitOpen, ProviderError, TaskError, ValidationFailed
from tasks.observability import spans

log = structlog.get_logger(__name__)
CIRCUIT_POLL_S = 0.5  # every model circuit-open: how often to look for a half-open probe
BUDGET_POLL_S = 0.5  # the budget is held by calls in flight: how often to try again


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
            # before the breaker (the gate's first step), so a pause never strands its probe
            engine.killswitch.check()
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


@dataclass
class _Try:
    """How one try through the gate ended, for what follows it."""

    max_reasks: int
    status: int | None  # the last HTTP status an error carried
    ok: bool | None = None  # the provider's health, once it is known (None: not recorded)
    wait_s: float = 0.0  # before the next try: a backoff, or a wait for budget
    budget_wait: bool = False  # nothing was sent: the wait is not a try


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
    """Call one model with transport retries (full-jitter backoff, retry-after honoured).

    Each try passes the gate (breaker, token bucket, slot: one Redis round trip when all
    let it through) and leaves it once (slot back, bucket corrected, health recorded).
    """
    cfg = engine.config
    model_cfg = cfg.models[model]
    tier_cfg = cfg.tiers[tier]
    # The tool definition rides along with every call: a tenant schema may be most of it.
    est_in = sum(estimate_tokens(m["content"]) for m in messages) + schema_tokens(response_model)
    # Quotes ride along with an enveloped answer: it may run longer (and is reserved so).
    factor = cfg.trust.evidence_output_factor if is_envelope(response_model) else 1.0
    max_out = int(tier_cfg.max_output_tokens * factor)
    gate = engine.call_gate()
    status: int | None = None
    attempt = 0
    while attempt < cfg.retry.max_attempts:
        attempt += 1
        engine.killswitch.check()
        try:
            passage = gate.enter(
                model=model,
                tokens=est_in,
                per_minute=model_cfg.tokens_per_minute,
                cap=model_cfg.concurrency,
            )
        except CircuitOpen as exc:
            # A retry is a new call: once the breaker opened (or this call was the half-open
            # probe and failed), fail over instead of hammering a model known to be down.
            tries = attempt - 1
            message = f"circuit opened after {tries} attempts" if tries else "circuit open"
            raise CircuitOpen(message, attempts=tries, last_status=status) from exc
        tally = Tally(engine, model, chunk, est_in, max_out)
        tried = _Try(max_reasks=tier_cfg.max_reasks, status=status)
        try:
            with spans.provider_call(model=model, provider=model_cfg.provider, attempt=attempt):
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
            tried.ok = True
        except Exception as exc:  # noqa: BLE001 - _failed raises whatever ends the tries
            _failed(engine, exc, tried, tally=tally, attempt=attempt, deadline=deadline)
        else:
            if stats is not None:
                stats.reasks += tally.reasks
            return parsed
        finally:
            bookkeep("budget_settle", tally.settle_rest)
            # no answer: no correction (the estimate stays taken); a budget wait: all back
            used = tally.actual_in or (0 if tried.budget_wait else est_in)
            gate.leave(passage, ok=tried.ok, actual_tokens=used)
        attempt -= tried.budget_wait
        status = tried.status
        engine.sleep(tried.wait_s)  # off the slot
    raise ProviderError("retries exhausted", attempts=cfg.retry.max_attempts, last_status=status)


def _failed(
    engine: Engine, exc: Exception, tried: _Try, *, tally: Tally, attempt: int, deadline: float
) -> None:
    """Raise what ends the tries, or fill in `tried` for the next one."""
    if isinstance(exc, ValidationError):
        tried.ok = True  # the provider answered; it is healthy
        raise ValidationFailed(
            f"answer failed validation after {tried.max_reasks} re-asks: {brief(exc)}",
            attempts=attempt,
        ) from exc
    if isinstance(exc, BudgetExceeded):
        # Money held by calls in flight mostly comes back (a call's worst case is far above
        # its usual cost): the first call waits for it, off the slot. With nothing held, or
        # no time left, the refusal stands: it says what is needed and what is left.
        if tally.opened or not exc.context.get("held"):
            raise exc
        if engine.clock() + BUDGET_POLL_S > deadline:
            raise exc
        tried.budget_wait, tried.wait_s = True, BUDGET_POLL_S
        return
    if isinstance(exc, TaskError):
        raise exc
    failure = classify(exc)
    tried.status = failure.status
    if failure.kind == "validation":
        raise ValidationFailed(failure.detail, attempts=attempt) from exc
    tried.ok = not failure.retryable
    tried.wait_s = _retry_delay(engine, failure, attempt, deadline, exc)


def _retry_delay(
    engine: Engine, failure: CallFailure, attempt: int, deadline: float, exc: Exception
) -> float:
    """The backoff before the next try, or the ProviderError that ends the tries."""
    cfg = engine.config
    if not failure.retryable:
        raise ProviderError(
            f"{failure.kind} (not retried): {failure.detail}",
            attempts=attempt,
            last_status=failure.status,
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
            last_status=failure.status,
        ) from exc
    return delay


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
