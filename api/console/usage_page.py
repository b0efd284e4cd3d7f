"""The usage page: spend by day and lane as a server-rendered SVG chart, by model as a
table, and this month's budget with how much of it is used (or held by calls in flight)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import ViewerDep
from api.console.render import page
from api.deps import ReadSessionDep
from storage import usage as usage_store
from storage.budget import usage_summary
from storage.usage import UsageLine

router = APIRouter(prefix="/console/usage", include_in_schema=False)
LANES = ("realtime", "batch")
CHART_H, BAR_W, GAP = 160, 14, 4


@dataclass(frozen=True)
class Bar:
    """One day's stacked bar: a rectangle per lane, in SVG user units."""

    day: dt.date
    x: int
    parts: list[tuple[str, float, float, Decimal]]  # lane, y, height, cost
    total: Decimal


def bars(lines: list[UsageLine], since: dt.date, days: int) -> tuple[list[Bar], Decimal]:
    """Every day of the range as a bar (empty days too), scaled to the busiest day."""
    per_day: dict[dt.date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for line in lines:
        per_day[line.day][line.lane] += line.cost_usd
    top = max((sum(d.values(), Decimal(0)) for d in per_day.values()), default=Decimal(0))
    out = []
    for i in range(days):
        day = since + dt.timedelta(days=i)
        y = float(CHART_H)
        parts = []
        for lane in LANES:
            cost = per_day[day][lane] if day in per_day else Decimal(0)
            height = float(cost / top) * CHART_H if top else 0.0
            y -= height
            parts.append((lane, round(y, 2), round(height, 2), cost))
        total = sum((p[3] for p in parts), Decimal(0))
        out.append(Bar(day, i * (BAR_W + GAP), parts, total))
    return out, top


def by_model(lines: list[UsageLine]) -> list[tuple[str, str, int, int, int, Decimal]]:
    """Calls, tokens and cost per model and lane over the range, the costliest first."""
    sums: dict[tuple[str, str], tuple[int, int, int, Decimal]] = {}
    for line in lines:
        c, i, o, u = sums.get((line.model, line.lane), (0, 0, 0, Decimal(0)))
        sums[line.model, line.lane] = (
            c + line.calls, i + line.input_tokens, o + line.output_tokens, u + line.cost_usd
        )  # fmt: skip
    rows = [(m, lane, c, i, o, u) for (m, lane), (c, i, o, u) in sums.items()]
    return sorted(rows, key=lambda r: r[5], reverse=True)


@router.get("", response_class=HTMLResponse)
def usage_view(
    request: Request,
    viewer: ViewerDep,
    session: ReadSessionDep,
    days: Annotated[int, Query(ge=1, le=92)] = 30,
) -> Response:
    """Spend by day, model and lane for the last `days` days, and the budget."""
    now = dt.datetime.now(dt.UTC)
    until = now.date()
    since = until - dt.timedelta(days=days - 1)
    lines = usage_store.spend_by_day(
        session=session, tenant_id=viewer.tenant.id, since=since, until=until
    )
    chart, top = bars(lines, since, days)
    budget = usage_summary(session=session, tenant_id=viewer.tenant.id, now=now)
    monthly = budget["monthly_budget_usd"] or Decimal(0)
    used = (budget["month_spent_usd"] or Decimal(0)) + (budget["month_reserved_usd"] or Decimal(0))
    return page(
        request,
        "usage.html",
        viewer=viewer,
        csrf=viewer.csrf,
        days=days,
        since=since,
        until=until,
        chart=chart,
        top=top,
        width=days * (BAR_W + GAP),
        height=CHART_H,
        bar_w=BAR_W,
        models=by_model(lines),
        totals=usage_store.total(lines),
        budget=budget,
        used=used,
        share=float(used / monthly) if monthly else 0.0,
    )
