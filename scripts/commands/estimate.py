"""`docqueue estimate`: what ingesting some files would cost and take, before anything is spent."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scripts.commands.common import Retries, with_api
from scripts.commands.documents import lane_options

if TYPE_CHECKING:
    from rich.table import Table

    from scripts.client import Client
    from scripts.ingest.manifest import Input

LANES = ("realtime", "batch")


def estimate_inputs(
    api: Client, inputs: list[Input], *, schema: str, tier: str, lane: dict[str, str], size: int
) -> dict[str, Any]:
    """POST /v1/estimate for the inputs, read as `docqueue ingest` reads them, one answer.

    Inputs are sent in the groups an ingest would send; their answers are merged (see
    `merge`). `skipped` counts the inputs an ingest would skip too.
    """
    from scripts.ingest import manifest
    from scripts.ingest.run import groups

    skipped = 0

    def docs() -> Any:
        nonlocal skipped
        for item in manifest.documents(inputs, schema=schema):
            if item.doc is None:
                skipped += 1
            else:
                yield item.doc

    answers = [
        api.create_estimate(
            {"schema": schema, "tier": tier, **lane, "documents": [d.body for d in group]}
        )
        for group in groups(docs(), size=size)
    ]
    if not answers:
        from scripts.ingest.sources import SourceError

        raise SourceError(f"nothing to estimate: all {skipped} inputs skipped")
    merged = merge(answers)
    merged["skipped"] = skipped
    return merged


def merge(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """One estimate from the answers of several requests.

    Counts, tokens and costs add up. A realtime ETA adds up too (each answer counted the
    queue ahead of it, so the sum is an upper bound); a batch ETA is the longest one.
    """
    first = answers[0]
    lanes: dict[str, dict[str, Any]] = {}
    for lane in LANES:
        parts = [a["lanes"][lane] for a in answers]
        etas = [p["eta_s"] for p in parts if p["eta_s"] is not None]
        eta = (sum(etas) if lane == "realtime" else max(etas)) if etas else None
        lanes[lane] = {
            **parts[0],
            **{
                k: sum(p[k] for p in parts)
                for k in ("documents", "calls", "reask_calls", "input_tokens", "output_tokens")
            },
            "cost_usd": str(sum((Decimal(p["cost_usd"]) for p in parts), Decimal(0))),
            "eta_s": eta,
        }
    documents = [d for a in answers for d in a["documents"]]
    return {**first, "lanes": lanes, "documents": documents}


def duration(seconds: float | None) -> str:
    """`45 s`, `12 min`, `3.5 h`: an ETA as a person reads it."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_table(answer: dict[str, Any]) -> Table:
    """Per lane: documents, tokens in / out, calls, cost and ETA."""
    from rich.table import Table

    table = Table(title=f"estimate: {answer['schema']} ({answer['lane']} lane)")
    for column in ("lane", "documents", "tokens in / out", "calls (+ re-asks)", "cost", "ETA"):
        table.add_column(column, justify="left" if column == "lane" else "right")
    for lane in LANES:
        part = answer["lanes"][lane]
        table.add_row(
            lane,
            f"{part['documents']:,}",
            f"{part['input_tokens']:,} / {part['output_tokens']:,}",
            f"{part['calls']:,} (+{part['reask_calls']:,})",
            f"${Decimal(part['cost_usd']):.4f}",
            duration(part["eta_s"]),
        )
    return table


def notes(answer: dict[str, Any]) -> list[str]:
    """The lines under the table: lane reason, re-ask overhead, output sizes, skipped inputs."""
    lines = []
    if answer.get("lane_reason"):
        lines.append(f"lane: {answer['lane']} ({answer['lane_reason']})")
    r = answer["reasks"]
    if r["source"] == "ledger":
        lines.append(
            f"re-ask overhead: +{r['extra_per_call']:.1%} calls ({r['share']:.1%} of "
            f"{r['calls']:,} calls over {r['jobs']:,} jobs failed validation, last "
            f"{r['days']} days)"
        )
    else:
        lines.append(f"re-ask overhead: none added (no calls in the last {r['days']} days)")
    for basis in answer["output"]:
        where = (
            f"mean of {basis['jobs']:,} finished jobs"
            if basis["source"] == "history"
            else f"default, only {basis['jobs']:,} finished jobs"
        )
        per_call = f"{basis['tokens_per_call']:,} tokens/call"
        lines.append(f"output, {basis['tier']} tier: {per_call} ({where})")
    invalid = sum(1 for d in answer["documents"] if d.get("invalid"))
    if invalid:
        lines.append(f"unreadable: {invalid} documents would fail at submission (no cost)")
    if answer.get("skipped"):
        lines.append(f"skipped: {answer['skipped']} inputs (as ingest would skip them)")
    return lines


def show(answer: dict[str, Any]) -> None:
    """Print the estimate's table and its notes."""
    from rich.console import Console

    Console().print(estimate_table(answer))
    for line in notes(answer):
        typer.echo(line)


def estimate(  # noqa: PLR0917 - typer passes every option as a parameter
    paths: Annotated[list[str], typer.Argument(help="Files, folders, globs, .jsonl or .csv.")],
    schema: Annotated[
        str, typer.Option(help="Extractor: a built-in (invoice) or yours; NAME@N pins a version.")
    ],
    tier: Annotated[str, typer.Option(help="auto, low, medium or high.")] = "auto",
    lane: Annotated[str, typer.Option(help="realtime, batch or auto (as ingest).")] = "realtime",
    deadline: Annotated[
        str | None,
        typer.Option(help="When the results are needed: RFC 3339 or 24h, 90m, 2d."),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Documents per request.")] = 500,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the merged answer as JSON.")
    ] = False,
    retries: Retries = 6,
) -> None:
    """Estimate tokens, cost and ETA per lane of ingesting PATHS; nothing is sent to a model."""
    from scripts.client.lanes import lane_fields
    from scripts.ingest import manifest
    from scripts.ingest.sources import SourceError

    chosen, when = lane_options(lane, deadline)

    def action(api: Client) -> None:
        inputs = manifest.walk(paths)
        if not inputs:
            raise SourceError("no files found")
        answer = estimate_inputs(
            api,
            inputs,
            schema=schema,
            tier=tier,
            lane=lane_fields(chosen, when),
            size=max(1, batch_size),
        )
        if as_json:
            import json

            typer.echo(json.dumps(answer))
        else:
            show(answer)

    with_api(retries, action)


def register(app: typer.Typer) -> None:
    """Add `estimate` to the top-level `docqueue` app."""
    app.command("estimate")(estimate)
