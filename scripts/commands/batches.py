"""`docqueue batches`, `cancel` and `retry`: the tenant's batches, and what to do with one."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scripts.commands.common import AsJson, Retries, with_api

if TYPE_CHECKING:
    from rich.table import Table

    from scripts.client import BatchSummary, Client

MAX_PAGE = 200  # the most GET /v1/batches gives in one page
COLUMNS = ("id", "schema", "tier", "status", "note", "progress", "counts", "cost (USD)", "created")


def parse_when(text: str | None, *, option: str, end: bool = False) -> str | None:
    """The API's exclusive bound for --since (on or after) or, as an `end`, --until.

    A date means its whole UTC day: --since 2026-05-01 is from its midnight, --until
    2026-05-01 up to the next one. A time (RFC 3339) is taken as it is.
    """
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        when = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        when += dt.timedelta(days=1) if end else dt.timedelta(0)
    else:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            why = f"{text!r} is neither a date (2026-05-01) nor an RFC 3339 time"
            raise typer.BadParameter(why, param_hint=option) from None
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    # created_after is exclusive: one microsecond earlier keeps a batch made at that instant
    return (when if end else when - dt.timedelta(microseconds=1)).isoformat()


def counts_text(counts: dict[str, int]) -> str:
    """`succeeded 8 failed 1`: the statuses that have jobs, in lifecycle order."""
    return " ".join(f"{status} {n}" for status, n in counts.items() if n) or "-"


def _created(when: dt.datetime | None) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if when else "-"


def batch_note(b: BatchSummary) -> str:
    """What the API's status does not say: paused, running jobs a cancel lets finish, failures."""
    notes = []
    if b.finished_at is None and b.paused:
        notes.append("paused (kill switch)")
    if b.cancelled_at is not None and b.counts["running"]:
        notes.append(f"{b.counts['running']} running will finish")
    if b.counts["failed"]:
        notes.append(f"{b.counts['failed']} failed")
    return "; ".join(notes) or "-"


def batch_row(b: BatchSummary) -> tuple[str, ...]:
    """One row: id, schema, tier, status (the API's), note, progress, counts, cost, created."""
    return (
        b.id,
        b.schema,
        b.tier,
        b.status,
        batch_note(b),
        f"{b.done}/{b.total} ({b.progress:.0%})",
        counts_text(b.counts),
        f"{b.cost_usd:.6f}",
        _created(b.created_at),
    )


def batches_table(summaries: Iterable[BatchSummary]) -> Table:
    """The batches as a rich table."""
    from rich.table import Table

    table = Table(title="batches")
    for column in COLUMNS:
        right = column in ("progress", "cost (USD)")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for b in summaries:
        table.add_row(*batch_row(b))
    return table


def cancel_line(before: BatchSummary, after: BatchSummary) -> str:
    """What a cancel did: jobs cancelled now, and those still running (they finish)."""
    now = max(0, after.counts["cancelled"] - before.counts["cancelled"])
    running = after.counts["running"]
    tail = f"; {running} running will finish" if running else ""
    return f"batch {after.id}: cancelled {now} job(s) not started{tail} [{after.status}]"


def requeue_line(before: BatchSummary, after: BatchSummary) -> str:
    """What `docqueue retry` did: failed and cancelled jobs queued again."""
    was = before.counts["failed"] + before.counts["cancelled"]
    left = after.counts["failed"] + after.counts["cancelled"]
    tail = f"; {left} stay failed (unreadable documents)" if left else ""
    return f"batch {after.id}: requeued {max(0, was - left)} job(s){tail} [{after.status}]"


def batches(  # noqa: PLR0917 - typer passes every option as a parameter
    status: Annotated[
        str | None, typer.Option(help="Only batches queued, running, finished or cancelled.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Created on or after this UTC date (or RFC 3339 time).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Created on or before this UTC date (or before a time).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many batches.")] = 50,
    as_json: AsJson = False,
    retries: Retries = 6,
) -> None:
    """List your batches: status, progress, counts, cost (newest first)."""
    from scripts.client import BatchSummary

    after = parse_when(since, option="--since")
    before = parse_when(until, option="--until", end=True)

    def action(api: Client) -> None:
        found = api.list_batches(
            status=status, created_after=after, created_before=before, limit=min(limit, MAX_PAGE)
        )
        shown = list(itertools.islice(found, limit))
        if as_json:
            typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
            return
        from rich.console import Console

        Console().print(batches_table(BatchSummary.from_api(b) for b in shown))

    with_api(retries, action)


def _change(
    batch: str, retries: Retries, as_json: bool, verb: str
) -> None:  # cancel or retry: the batch before, the call, what changed
    from scripts.client import BatchSummary

    def action(api: Client) -> None:
        before = BatchSummary.from_api(api.get_batch(batch))
        answer: dict[str, Any] = (
            api.cancel_batch(batch) if verb == "cancel" else api.retry_batch(batch)
        )
        if as_json:
            typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
            return
        after = BatchSummary.from_api(answer)
        typer.echo((cancel_line if verb == "cancel" else requeue_line)(before, after))
        typer.echo(f"{counts_text(after.counts)} (of {after.total})")

    with_api(retries, action)


def cancel(batch: str, as_json: AsJson = False, retries: Retries = 6) -> None:
    """Cancel a batch's jobs that have not started; running ones finish."""
    _change(batch, retries, as_json, "cancel")


def retry(batch: str, as_json: AsJson = False, retries: Retries = 6) -> None:
    """Queue a batch's failed and cancelled jobs again."""
    _change(batch, retries, as_json, "retry")


def register(app: typer.Typer) -> None:
    """Add `batches`, `cancel` and `retry` to the top-level `docqueue` app."""
    app.command("batches")(batches)
    app.command("cancel")(cancel)
    app.command("retry")(retry)
