"""`docqueue eval`: how many labelled values a batch's results got right, field by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scripts.commands.common import Retries, with_api
from scripts.evals.labels import Label, LabelFileError, read_labels

if TYPE_CHECKING:
    from scripts.client import Client


def read_label_file(path: Path) -> list[Label]:
    """Every label of a labels file; LabelFileError if it cannot be read or holds none."""
    try:
        with path.open(encoding="utf-8") as lines:
            found = read_labels(lines)
    except OSError as exc:
        raise LabelFileError(f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise LabelFileError("not UTF-8 text") from None
    if not found:
        raise LabelFileError("no label lines (one JSON object per line)")
    return found


def batch_schema(api: Client, ref: str) -> dict[str, Any]:
    """The JSON Schema of a batch's extractor version (`name@N`; a bare name: its latest)."""
    if not ref:
        return {}  # no schema named: every field is scored by the kind of its label
    name, _, number = ref.partition("@")
    version = int(number) if number.isdigit() else int(api.extractor(name)["latest_version"])
    schema: dict[str, Any] = api.extractor_version(name, version)["json_schema"]
    return schema


def write_report(path: Path, body: dict[str, Any]) -> None:
    """The JSON report, written whole."""
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def eval_(  # noqa: PLR0917 - typer passes every option as a parameter
    labels: Annotated[Path, typer.Argument(help="Labelled values, one JSON object per line.")],
    batch: Annotated[str, typer.Option("--batch", help="The batch whose results to score.")],
    out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON to this file.")
    ] = None,
    num_tolerance: Annotated[
        float, typer.Option(min=0, help="Numbers this close (absolute) agree.")
    ] = 0.01,
    rel_tolerance: Annotated[
        float, typer.Option(min=0, help="Numbers this close (relative: 0.01 is 1%) agree.")
    ] = 0.0,
    retries: Retries = 6,
) -> None:
    """Score a batch's results against labelled values: accuracy per field and overall.

    A label line is {"job_id" | "key" | "filename": ..., "labels": {...}}: `labels` holds
    the labelled fields of a result in the extractor's schema (`docqueue review export`
    writes such lines). Each field is scored by its schema: exact (integer, boolean, enum),
    normalised text, numbers within the tolerances, dates by value, lists by set F1.
    """
    from scripts.evals.labels import match_labels
    from scripts.evals.report import evaluate, missing_lines, report_table
    from scripts.evals.schema_rules import SchemaView
    from scripts.evals.scoring import Scorer, Tolerance

    try:
        found = read_label_file(labels)
    except LabelFileError as exc:
        typer.echo(f"error: {labels}: {exc}", err=True)
        raise typer.Exit(1) from None
    tol = Tolerance(absolute=num_tolerance, relative=rel_tolerance)

    def action(api: Client) -> None:
        info = api.get_batch(batch)
        if not info.get("finished_at"):
            typer.echo(
                f"note: batch {batch} has not finished: jobs with no result score 0", err=True
            )
        schema = batch_schema(api, str(info.get("schema") or ""))
        matched = match_labels(found, api.results(batch))
        report = evaluate(batch, found, matched, Scorer(SchemaView(schema), tol))
        from rich.console import Console

        Console().print(report_table(report))
        for line in missing_lines(report):
            typer.echo(line, err=True)
        if out is not None:
            write_report(out, report.to_json())
            typer.echo(f"report written to {out}", err=True)

    with_api(retries, action)
