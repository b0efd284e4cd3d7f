"""Spend reports from the usage ledger (`llm_calls` and `usage_days`) by day, model, tier, lane."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session


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


# The live ledger and the days folded out of it (storage/ledger_rollup.py) add up: spend
# stays exact after retention or an erasure deleted the calls. The range on (tenant_id,
# created_at) is served by ix_llm_calls_tenant_created; usage_days by its primary key.
_SPEND = text(
    """
    SELECT day, model, tier, lane, sum(calls), sum(input_tokens), sum(output_tokens),
           sum(cached_tokens), sum(cost_usd)
    FROM (
        SELECT date(timezone('UTC', created_at)) AS day, model, tier, lane,
               count(*) AS calls, sum(input_tokens) AS input_tokens,
               sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens,
               sum(cost_usd) AS cost_usd
        FROM llm_calls
        WHERE tenant_id = :t AND created_at >= :start AND created_at < :end
        GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT day, model, tier, lane, calls, input_tokens, output_tokens, cached_tokens,
               cost_usd
        FROM usage_days WHERE tenant_id = :t AND day >= :since AND day <= :until
    ) AS both_sources
    GROUP BY day, model, tier, lane
    ORDER BY day, model, tier, lane
    """
)


def spend_by_day(
    *, session: Session, tenant_id: uuid.UUID, since: dt.date, until: dt.date
) -> list[UsageLine]:
    """The tenant's ledger from `since` through `until` (UTC days), by day, model, tier, lane."""
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rows = session.execute(
        _SPEND,
        {"t": tenant_id, "start": start, "end": end, "since": since, "until": until},
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
