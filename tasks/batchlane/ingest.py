"""Provider batch result lines into Postgres: bill them, settle them, tape them, wake the jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import anthropic.types
import openai.types.chat
from sqlalchemy.orm import Session

from schemas.config import AppConfig
from storage import lane_results as store
from tasks.batchlane.providers import ItemResult
from tasks.engine.cost import TokenUsage, call_cost
from tasks.engine.llm import usage_of
from tasks.engine.tape import FINISHED_LIVE


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


def _usage(provider: str, body: dict[str, Any] | None) -> TokenUsage:
    """The answer's usage, read by the same code as a realtime answer's."""
    if not body:
        return TokenUsage(0, 0, 0)
    try:
        if provider == "openai":
            return usage_of(provider, openai.types.chat.ChatCompletion.model_validate(body))
        return usage_of(provider, anthropic.types.Message.model_validate(body))
    except ValueError:  # a malformed body: the answer fails at replay; nothing to bill
        return TokenUsage(0, 0, 0)


def ingest_chunk(
    *, session: Session, config: AppConfig, results: Sequence[ItemResult], switch: store.Switch
) -> dict[str, int]:
    """Record a chunk of results in one transaction; counts per kind (idempotent).

    An item already resolved (a result read again after a crash) or named twice in the
    chunk is `skipped`: nothing of it is billed again.
    """
    items = store.lock_items(session=session, custom_ids=[r.custom_id for r in results])
    counts: dict[str, int] = {}
    resolutions: list[store.Resolution] = []
    for result in results:
        item = items.pop(result.custom_id, None)
        resolution = None if item is None else _resolution(config, item, result)
        kind = "skipped" if resolution is None else resolution.state
        counts[kind] = counts.get(kind, 0) + 1
        if resolution is not None:
            resolutions.append(resolution)
    store.resolve(session=session, resolutions=resolutions, switch=switch)
    return counts


def _resolution(config: AppConfig, item: store.LockedItem, result: ItemResult) -> store.Resolution:
    """What one result does to its item: bill its answer at the batch price, or refund it."""
    if result.kind not in ("answered", "errored") or result.status is None:
        state = result.kind if result.kind in ("expired", "cancelled") else "lost"
        return store.Resolution(item=item, state=state, answer=None)
    usage = _usage(item.provider, result.body) if result.kind == "answered" else None
    usage = usage or TokenUsage(0, 0, 0)
    cost = call_cost(
        model=config.models[item.model],
        usage=usage,
        day=item.created_at.astimezone(dt.UTC).date(),  # the lane's price on its day
        lane="batch",
    )
    answer = store.Answer(
        status=result.status,
        body=result.body,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost_usd=cost,
        outcome="ok" if result.status == 200 else f"http_{result.status}",
    )
    return store.Resolution(item=item, state=result.kind, answer=answer)
