"""`docqueue rerun` and `docqueue diff`: re-extract a batch under another version, compare."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scripts.commands.common import Retries, with_api

if TYPE_CHECKING:
    from rich.table import Table

    from scripts.client import Client

DiffRow = tuple[str, int, int, int]  # field, changed, added, removed


def diff_rows(summary: dict[str, Any]) -> list[DiffRow]:
    """One row per field that differs, the most changed first (then by name)."""
    rows = [
        (
            str(field),
            int(counts.get("changed", 0)),
            int(counts.get("added", 0)),
            int(counts.get("removed", 0)),
        )
        for field, counts in (summary.get("fields") or {}).items()
    ]
    return sorted(rows, key=lambda r: (-(r[1] + r[2] + r[3]), r[0]))


def diff_totals(rows: Iterable[DiffRow]) -> DiffRow:
    """The totals row: changes summed over fields."""
    changed = added = removed = 0
    for _, c, a, r in rows:
        changed, added, removed = changed + c, added + a, removed + r
    return ("total", changed, added, removed)


def diff_caption(summary: dict[str, Any]) -> str:
    """What was compared: documents, those in both batches, and those that differ."""
    return (
        f"{summary.get('changed_documents', 0)} of {summary.get('compared', 0)} compared "
        f"documents differ ({summary.get('documents', 0)} documents in {summary.get('batch_id')})"
    )


def _diff_table(summary: dict[str, Any]) -> Table:
    from rich.table import Table

    rows = diff_rows(summary)
    table = Table(title=f"{summary.get('batch_id')} against {summary.get('against')}")
    table.add_column("field", overflow="fold")
    for column in ("changed", "added", "removed"):
        table.add_column(column, justify="right")
    for field, *counts in rows:
        table.add_row(field, *map(str, counts))
    field, *totals = diff_totals(rows)
    table.add_section()
    table.add_row(field, *map(str, totals), style="bold")
    return table


def rerun(
    batch: Annotated[str, typer.Argument(help="The batch whose documents to extract again.")],
    schema: Annotated[str, typer.Option(help="The extractor version, NAME@N.")],
    wait: Annotated[bool, typer.Option(help="Follow the new batch until it finishes.")] = False,
    retries: Retries = 6,
) -> None:
    """Extract a batch's documents again as a new batch; stdout is the new batch id."""
    from rich.console import Console

    from scripts.ingest.run import follow, summary_table

    def action(api: Client) -> None:
        made = api.rerun_batch(batch, schema)
        new_id = str(made["id"])
        if wait:
            agg = follow(api, [new_id])
            facts = {"batch": new_id, "rerun of": batch, "schema": schema}
            Console(stderr=True).print(summary_table("rerun finished", agg, facts))
        typer.echo(new_id)  # alone on stdout: NEW=$(docqueue rerun ...)

    with_api(retries, action)


def diff(
    batch: Annotated[str, typer.Argument(help="The batch to compare (its results are `after`).")],
    against: Annotated[str, typer.Argument(help="The batch to compare with (`before`).")],
    ndjson: Annotated[
        bool, typer.Option("--ndjson", help="Stream the per-document changes as NDJSON.")
    ] = False,
    retries: Retries = 6,
) -> None:
    """Compare two batches' results document by document: which fields changed."""
    from rich.console import Console

    def action(api: Client) -> None:
        if ndjson:
            for line in api.diff_lines(batch, against):
                typer.echo(json.dumps(line, ensure_ascii=False))
            return
        summary = api.diff_summary(batch, against)
        console = Console()
        console.print(_diff_table(summary))
        console.print(diff_caption(summary))

    with_api(retries, action)


def register(app: typer.Typer) -> None:
    """Add `rerun` and `diff` to the top-level `docqueue` app."""
    app.command("rerun")(rerun)
    app.command("diff")(diff)
