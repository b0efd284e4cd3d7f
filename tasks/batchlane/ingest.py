"""Provider batch result lines into Postgres: bill them, settle them, tape them, wake the jobs.

`ingest` reads the results chunk by chunk, one transaction per chunk, in order. While one
chunk's transaction runs (on a worker thread: Postgres does the work, the thread waits), the
next chunk is parsed, its usage read and its bodies encoded; only one transaction is ever
open, so the locking is that of a plain loop.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import types
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anthropic.types
import openai.types
from sqlalchemy.orm import Session

from schemas.config import AppConfig, ModelConfig
from storage import lane_results as store
from tasks.batchlane.providers import ItemResult
from tasks.engine.cost import TokenUsage, call_cost
from tasks.engine.llm import usage_of
from tasks.engine.tape import FINISHED_LIVE

INGEST_CHUNK = 200  # results per transaction
Sessions = Callable[[], AbstractContextManager[Session]]
NO_USAGE = TokenUsage(0, 0, 0)


def switch_rule(config: AppConfig, now: dt.datetime) -> store.Switch:
    """When a woken job leaves the lane: no further batch round fits before its deadline."""
    lane = config.batch_lane
    return store.Switch(
        before=now + dt.timedelta(hours=lane.window_h + lane.margin_h),
        max_resubmits=lane.max_resubmits,
        reason=(
            f"{FINISHED_LIVE}: no batch round of {lane.window_h:g} h (+{lane.margin_h:g} h) fits"
            f" the deadline, or the provider lost the request {lane.max_resubmits} times"
        ),
    )


def usage_in(provider: str, body: dict[str, Any] | None) -> TokenUsage:
    """The answer's usage, read by the same code as a realtime answer's.

    Only the body's `usage` object is validated (the SDK's own usage type): the rest of the
    answer is the worker's to judge at replay, and the provider bills the tokens either way.
    """
    raw = body.get("usage") if body else None
    if raw is None:
        return NO_USAGE
    kind = openai.types.CompletionUsage if provider == "openai" else anthropic.types.Usage
    try:
        return usage_of(provider, types.SimpleNamespace(usage=kind.model_validate(raw)))
    except ValueError:  # a malformed usage: nothing we could bill
        return NO_USAGE


class Pricing:
    """Each (model, day)'s batch price, looked up once: `call_cost` then prices every result."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.models: dict[tuple[str, dt.date], ModelConfig] = {}

    def cost(self, model: str, day: dt.date, usage: TokenUsage) -> Decimal:
        """The result's cost at the lane's price in force on `day`."""
        priced = self.models.get((model, day))
        if priced is None:  # the model with only that day's price: `price_on` finds it at once
            full = self.config.models[model]
            price = full.price_on(day, lane="batch")
            priced = full.model_copy(update={"batch_prices": [price]})
            self.models[(model, day)] = priced
        return call_cost(model=priced, usage=usage, day=day, lane="batch")


@dataclass(frozen=True, slots=True)
class Parsed:
    """A result with what can be read of it before its item is locked."""

    result: ItemResult
    provider: str
    usage: TokenUsage | None  # None: not an answer, nothing to bill
    body_json: str | None


def parse(provider: str, result: ItemResult) -> Parsed:
    """Read the result's usage and encode its body (no database needed)."""
    answered = result.kind == "answered" and result.status is not None
    usage = usage_in(provider, result.body) if answered else None
    body = None if result.body is None else json.dumps(result.body, separators=(",", ":"))
    return Parsed(result, provider, usage, body)


def ingest(
    *,
    sessions: Sessions,
    config: AppConfig,
    provider: str,
    results: Iterable[ItemResult],
    switch: store.Switch,
    chunk: int = INGEST_CHUNK,
) -> dict[str, int]:
    """Ingest every result, `chunk` per transaction, in order; counts per kind (idempotent)."""
    counts: dict[str, int] = {}
    pricing = Pricing(config)
    lines = iter(results)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as pool:
        running: Future[dict[str, int]] | None = None
        while batch := [parse(provider, r) for r in itertools.islice(lines, chunk)]:
            if running is not None:  # one transaction at a time, in order
                _add(counts, running.result())
            running = pool.submit(_ingest_parsed, sessions, pricing, batch, switch)
        if running is not None:
            _add(counts, running.result())
    return counts


def _ingest_parsed(
    sessions: Sessions, pricing: Pricing, parsed: Sequence[Parsed], switch: store.Switch
) -> dict[str, int]:
    with sessions() as session:
        return _record(session, pricing, parsed, switch)


def ingest_chunk(
    *, session: Session, config: AppConfig, results: Sequence[ItemResult], switch: store.Switch
) -> dict[str, int]:
    """Record a chunk of results in the session's transaction; counts per kind (idempotent).

    An item already resolved (a result read again after a crash) or named twice in the
    chunk is `skipped`: nothing of it is billed again.
    """
    items = store.lock_items(session=session, custom_ids=[r.custom_id for r in results])
    parsed = [parse(_provider_of(items, r), r) for r in results]
    return _record(session, Pricing(config), parsed, switch, items)


def _provider_of(items: dict[str, store.LockedItem], result: ItemResult) -> str:
    item = items.get(result.custom_id)
    return "openai" if item is None else item.provider


def _record(
    session: Session,
    pricing: Pricing,
    parsed: Sequence[Parsed],
    switch: store.Switch,
    items: dict[str, store.LockedItem] | None = None,
) -> dict[str, int]:
    if items is None:
        items = store.lock_items(session=session, custom_ids=[p.result.custom_id for p in parsed])
    counts: dict[str, int] = {}
    resolutions: list[store.Resolution] = []
    for one in parsed:
        item = items.pop(one.result.custom_id, None)
        resolution = None if item is None else _resolution(pricing, item, one)
        kind = "skipped" if resolution is None else resolution.state
        counts[kind] = counts.get(kind, 0) + 1
        if resolution is not None:
            resolutions.append(resolution)
    store.resolve(session=session, resolutions=resolutions, switch=switch)
    return counts


def _resolution(pricing: Pricing, item: store.LockedItem, parsed: Parsed) -> store.Resolution:
    """What one result does to its item: bill its answer at the batch price, or refund it."""
    result = parsed.result
    if result.kind not in ("answered", "errored") or result.status is None:
        state = result.kind if result.kind in ("expired", "cancelled") else "lost"
        return store.Resolution(item=item, state=state, answer=None)
    usage = parsed.usage
    if usage is not None and parsed.provider != item.provider:  # read as the item's provider
        usage = usage_in(item.provider, result.body)
    usage = usage or NO_USAGE
    day = item.created_at.astimezone(dt.UTC).date()  # the lane's price on its day
    answer = store.Answer(
        status=result.status,
        body=result.body,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost_usd=pricing.cost(item.model, day, usage),
        outcome="ok" if result.status == 200 else f"http_{result.status}",
        body_json=parsed.body_json,
    )
    return store.Resolution(item=item, state=result.kind, answer=answer)


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for kind, n in more.items():
        counts[kind] = counts.get(kind, 0) + n
