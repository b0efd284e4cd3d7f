"""`docqueue review ...`: jobs waiting for a person, approve or correct one, export labels."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scripts.commands.common import AsJson, Retries, with_api
from scripts.evals.labels import doc_key

if TYPE_CHECKING:
    from rich.table import Table

    from scripts.client import Client

app = typer.Typer(
    no_args_is_help=True,
    help="Results waiting for review: list them, approve or correct one, export labels.",
)
PAGE = 100  # jobs asked for per page of GET /v1/review
LOW_SHOWN = 5  # low fields named per row; the rest are counted
REVIEW_THRESHOLD = 0.6  # the default `[trust] review_threshold`: below it a field is low
ReviewRow = tuple[str, str, str, str]  # job id, file, lowest confidence, low fields


def label_line(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """A reviewed job as the label line `docqueue eval` reads (None without a result)."""
    result = item.get("result")
    if not isinstance(result, dict):
        return None
    return {
        "key": doc_key(item.get("key") or item.get("idempotency_key")),
        "filename": item.get("filename"),
        "job_id": str(item.get("job_id") or item.get("id")),
        "labels": result,
    }


def write_labels(path: Path, items: Iterable[Mapping[str, Any]]) -> int:
    """Write one label line per reviewed job; returns how many. The file appears whole."""
    part = path.with_name(f"{path.name}.part")
    count = 0
    try:
        with part.open("w", encoding="utf-8") as out:
            for item in items:
                line = label_line(item)
                if line is not None:
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    count += 1
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return count


def _confidence(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def review_row(item: Mapping[str, Any], below: float = REVIEW_THRESHOLD) -> ReviewRow:
    """One pending job: its id, file, lowest confidence and the fields below `below`."""
    fields = [f for f in item.get("fields") or [] if isinstance(f, dict)]
    scored = [
        (c, str(f.get("path", "")))
        for f in fields
        if (c := _confidence(f.get("confidence"))) is not None
    ]
    lowest = _confidence(item.get("confidence"))
    if lowest is None and scored:
        lowest = min(c for c, _ in scored)
    low = sorted((c, p) for c, p in scored if c < below)
    named = ", ".join(f"{p} ({c:.2f})" for c, p in low[:LOW_SHOWN])
    if len(low) > LOW_SHOWN:
        named += f", +{len(low) - LOW_SHOWN} more"
    return (
        str(item.get("id") or item.get("job_id") or ""),
        str(item.get("filename") or "-"),
        "-" if lowest is None else f"{lowest:.2f}",
        named or "-",
    )


def review_table(rows: Iterable[ReviewRow], pending: int | None) -> Table:
    """Pending jobs as a rich table; the caption says how many wait in all."""
    from rich.table import Table

    caption = f"{pending} pending" if pending is not None else None
    table = Table(title="waiting for review", caption=caption)
    for column in ("job", "file", "lowest", "low fields"):
        table.add_column(column, justify="right" if column == "lowest" else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def parse_sets(values: Iterable[str]) -> dict[str, Any]:
    """`/pointer=JSON` pairs as corrections; a value that is not JSON is taken as text."""
    corrections: dict[str, Any] = {}
    for value in values:
        where, sep, raw = value.partition("=")
        if not sep or not where.startswith("/"):
            why = f"{value!r}: write /pointer=VALUE, e.g. /total=12.5 or '/vendor/name=\"Acme\"'"
            raise typer.BadParameter(why, param_hint="--set")
        try:
            corrections[where] = json.loads(raw)
        except json.JSONDecodeError:
            corrections[where] = raw
    return corrections


def pending_pages(
    api: Client, *, batch: str | None, extractor: str | None, limit: int
) -> tuple[int | None, Iterator[dict[str, Any]]]:
    """The pending count of the first page, and up to `limit` pending jobs."""
    first = api.review_page(batch_id=batch, extractor=extractor, limit=min(limit, PAGE))
    pending = first.get("pending")

    def items() -> Iterator[dict[str, Any]]:
        page, shown = first, 0
        while True:
            for item in page.get("items") or ():
                if shown >= limit:
                    return
                shown += 1
                yield item
            cursor = page.get("next_cursor")
            if not cursor or shown >= limit:
                return
            page = api.review_page(
                batch_id=batch, extractor=extractor, limit=min(limit, PAGE), cursor=cursor
            )

    return (int(pending) if isinstance(pending, int) else None), items()


@app.command("list")
def list_(  # noqa: PLR0917 - typer passes every option as a parameter
    batch: Annotated[str | None, typer.Option("--batch", help="Only this batch's jobs.")] = None,
    extractor: Annotated[str | None, typer.Option(help="Only this extractor's jobs.")] = None,
    below: Annotated[
        float, typer.Option(min=0, max=1, help="Fields below this confidence are low.")
    ] = REVIEW_THRESHOLD,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many jobs.")] = 50,
    as_json: AsJson = False,
    retries: Retries = 6,
) -> None:
    """Jobs waiting for review: id, file, lowest confidence and the low fields."""

    def action(api: Client) -> None:
        pending, items = pending_pages(api, batch=batch, extractor=extractor, limit=limit)
        if as_json:
            body = {"pending": pending, "items": list(items)}
            typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
            return
        from rich.console import Console

        Console().print(review_table([review_row(i, below) for i in items], pending))

    with_api(retries, action)


@app.command("approve")
def approve(
    job: Annotated[str, typer.Argument(help="The job id.")],
    sets: Annotated[
        list[str] | None,
        typer.Option("--set", help="A correction, /pointer=JSON (repeat for more)."),
    ] = None,
    approve_: Annotated[
        bool, typer.Option("--approve/--no-approve", help="Approve, or only correct.")
    ] = True,
    as_json: AsJson = False,
    retries: Retries = 6,
) -> None:
    """Approve a job's result, correcting fields first with --set /pointer=VALUE."""
    corrections = parse_sets(sets or [])

    def action(api: Client) -> None:
        done = api.review_job(job, corrections, approve=approve_)
        if as_json:
            typer.echo(json.dumps(done, indent=2, ensure_ascii=False))
            return
        fixed = f", {len(corrections)} correction(s)" if corrections else ""
        typer.echo(f"job {done.get('id', job)}: {done.get('review_state') or '-'}{fixed}")

    with_api(retries, action)


@app.command("export")
def export(
    extractor: Annotated[str, typer.Option(help="The extractor whose reviewed jobs to export.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The labels file to write.")],
    retries: Retries = 6,
) -> None:
    """Write each reviewed job's final result as a label line that `docqueue eval` reads."""

    def action(api: Client) -> None:
        count = write_labels(out, api.review_labels(extractor, limit=PAGE))
        typer.echo(f"wrote {count} label(s) to {out}")

    with_api(retries, action)
