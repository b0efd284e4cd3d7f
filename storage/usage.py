"""Spend reports from the usage ledger (`llm_calls`): per UTC day, model, tier and lane."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import LlmCall


@dataclass(frozen=True)
class UsageLine:
    """The calls of one day, model, tier and lane (failed calls included: they are real calls).

    `lane` is `realtime` (a call made as its job ran) or `batch` (a provider's batch API).
    """

    day: dt.date
    model: str
    tier: str
    lane: str
    calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal


@dataclass(frozen=True)
class UsageTotals:
    """The sum of some usage lines."""

    calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal


def spend_by_day(
    *, session: Session, tenant_id: uuid.UUID, since: dt.date, until: dt.date
) -> list[UsageLine]:
    """The tenant's ledger from `since` through `until` (UTC days), by day, model, tier, lane."""
    day = func.date(func.timezone("UTC", LlmCall.created_at)).label("day")
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rows = session.execute(
        select(
            day,
            LlmCall.model,
            LlmCall.tier,
            LlmCall.lane,
            func.count(),
            func.coalesce(func.sum(LlmCall.input_tokens), 0),
            func.coalesce(func.sum(LlmCall.output_tokens), 0),
            func.coalesce(func.sum(LlmCall.cached_tokens), 0),
            func.coalesce(func.sum(LlmCall.cost_usd), 0),
        )
        # a range on (tenant_id, created_at): ix_llm_calls_tenant_created serves it
        .where(
            LlmCall.tenant_id == tenant_id,
            LlmCall.created_at >= start,
            LlmCall.created_at < end,
        )
        .group_by(day, LlmCall.model, LlmCall.tier, LlmCall.lane)
        .order_by(day, LlmCall.model, LlmCall.tier, LlmCall.lane)
    ).all()
    return [
        UsageLine(
            day=row[0],
            model=row[1],
            tier=row[2],
            lane=row[3],
            calls=int(row[4]),
            input_tokens=int(row[5]),
            output_tokens=int(row[6]),
            cached_tokens=int(row[7]),
            cost_usd=Decimal(row[8]),
        )
        for row in rows
    ]


def total(lines: list[UsageLine]) -> UsageTotals:
    """Add up usage lines."""
    return UsageTotals(
        calls=sum(line.calls for line in lines),
        input_tokens=sum(line.input_tokens for line in lines),
        output_tokens=sum(line.output_tokens for line in lines),
        cached_tokens=sum(line.cached_tokens for line in lines),
        cost_usd=sum((line.cost_usd for line in lines), Decimal("0.000000")),
    )
