"""`docqueue usage`: spend by day, model, tier and lane, with totals and the budget."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scripts.commands.common import AsJson, Retries, with_api

if TYPE_CHECKING:
    from rich.table import Table

    from scripts.client import Client, UsageLine

NUMBERS = ("calls", "tokens in", "tokens out", "cached", "cost (USD)")


def parse_day(text: str | None, *, option: str) -> str | None:
    """A UTC day for --since/--until, as YYYY-MM-DD."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (2026-05-01)", param_hint=option
        ) from None


def _usd(value: Any) -> str:
    if value is None:
        return "-"
    try:
        return f"{Decimal(str(value)):.6f}"
    except InvalidOperation:
        return str(value)


def usage_rows(lines: Iterable[UsageLine]) -> list[tuple[str, ...]]:
    """One row per day, model, tier and lane."""
    return [
        (
            u.day,
            u.model,
            u.tier,
            u.lane,
            f"{u.calls:,}",
            f"{u.input_tokens:,}",
            f"{u.output_tokens:,}",
            f"{u.cached_tokens:,}",
            _usd(u.cost_usd),
        )
        for u in lines
    ]


def totals_row(totals: dict[str, Any]) -> tuple[str, ...]:
    """The totals row under the lines."""
    return (
        "total",
        "",
        "",
        "",
        *(f"{int(totals.get(k, 0)):,}" for k in ("calls", "input_tokens", "output_tokens")),
        f"{int(totals.get('cached_tokens', 0)):,}",
        _usd(totals.get("cost_usd")),
    )


def budget_rows(budget: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(period, budget, spent, reserved) for the month and the day."""
    daily = budget.get("daily_budget_usd")
    return [
        (
            f"month {budget.get('month', '')}",
            _usd(budget.get("monthly_budget_usd")),
            _usd(budget.get("month_spent_usd")),
            _usd(budget.get("month_reserved_usd")),
        ),
        (
            f"day {budget.get('day', '')}",
            _usd(daily) if daily is not None else "none",
            _usd(budget.get("day_spent_usd")),
            _usd(budget.get("day_reserved_usd")),
        ),
    ]


def _tables(report: dict[str, Any]) -> tuple[Table, Table]:
    from rich.table import Table

    from scripts.client import UsageLine

    spend = Table(title=f"usage {report.get('since')} to {report.get('until')} (UTC)")
    for column in ("day", "model", "tier", "lane"):
        spend.add_column(column, overflow="fold")
    for column in NUMBERS:
        spend.add_column(column, justify="right")
    for row in usage_rows(UsageLine.from_api(u) for u in report.get("by_day") or ()):
        spend.add_row(*row)
    spend.add_section()
    spend.add_row(*totals_row(report.get("totals") or {}), style="bold")
    budget = Table(title="budget (USD)")
    budget.add_column("period")
    for column in ("budget", "spent", "reserved"):
        budget.add_column(column, justify="right")
    for row in budget_rows(report.get("budget") or {}):
        budget.add_row(*row)
    return spend, budget


def usage(
    since: Annotated[str | None, typer.Option(help="First day (UTC), YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day (UTC), inclusive.")] = None,
    as_json: AsJson = False,
    retries: Retries = 6,
) -> None:
    """Spend by day, model, tier and lane, with totals and the budget (this month by default)."""
    first, last = parse_day(since, option="--since"), parse_day(until, option="--until")

    def action(api: Client) -> None:
        report = api.usage(since=first, until=last)
        if as_json:
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
            return
        from rich.console import Console

        console = Console()
        for table in _tables(report):
            console.print(table)

    with_api(retries, action)
