"""`docqueue ingest`, `status` and `results`: documents up as batches, progress, results down."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scripts.commands.common import Retries, with_api

if TYPE_CHECKING:
    from scripts.client import Client
    from scripts.client.lanes import LaneChoice


def ingest(  # noqa: PLR0917 - typer passes every option as a parameter
    paths: Annotated[list[str], typer.Argument(help="Files, folders, globs, .jsonl or .csv.")],
    schema: Annotated[
        str, typer.Option(help="Extractor: a built-in (invoice) or yours; NAME@N pins a version.")
    ],
    tier: Annotated[str, typer.Option(help="auto, low, medium or high.")] = "auto",
    wait: Annotated[bool, typer.Option(help="Follow the batch until it finishes.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="One row per input (.jsonl, .ndjson, .csv or .xlsx).")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Documents per request (an ingest is one batch).")
    ] = 500,
    run: Annotated[
        str | None,
        typer.Option(help="Name the run: the same name resumes one batch even if files changed."),
    ] = None,
    lane: Annotated[
        str | None,
        typer.Option(
            help="realtime (the default); batch (a provider's batch API: half price, within "
            "24 h); or auto (batch unless --deadline is too near). Given, the estimate is "
            "printed first and, on a terminal, the ingest starts once you confirm.",
            show_default=False,
        ),
    ] = None,
    deadline: Annotated[
        str | None,
        typer.Option(
            help="When the results are needed: RFC 3339 (with Z or +02:00) or 24h, 90m, 2d."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="With --lane: start without asking.")
    ] = False,
    retries: Retries = 6,
) -> None:
    """Upload documents as one batch (re-run to resume: nothing is duplicated)."""
    from scripts.ingest.run import run_ingest

    chosen, when = lane_options(lane or "realtime", deadline)

    def action(api: Client) -> None:
        run_ingest(
            api,
            paths,
            schema=schema,
            tier=tier,
            batch_size=batch_size,
            wait=wait,
            out_path=out,
            run_name=run,
            lane=chosen,
            deadline=when,
            estimate_first=lane is not None,  # without --lane: as before, no question
            ask=not yes,
        )

    with_api(retries, action)


def lane_options(lane: str, deadline: str | None) -> tuple[LaneChoice, str | None]:
    """`--lane` and `--deadline` checked, the deadline as RFC 3339 (a duration from now)."""
    from scripts.client.lanes import LANE_CHOICES, deadline_param, lane_choice

    try:
        chosen = lane_choice(lane)
    except ValueError as exc:
        raise typer.BadParameter(f"one of {', '.join(LANE_CHOICES)}", param_hint="--lane") from exc
    try:
        return chosen, deadline_param(deadline)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--deadline") from exc


def status(batch: str, retries: Retries = 6) -> None:
    """Print a batch's counts per status, progress and cost."""
    from scripts.ingest.run import run_status

    with_api(retries, lambda api: run_status(api, batch))


def results(
    batch: str,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Results file (.jsonl, .ndjson, .csv or .xlsx).")
    ],
    retries: Retries = 6,
) -> None:
    """Write a batch's results, one line (or CSV row) per document."""
    from scripts.ingest.run import write_results

    def action(api: Client) -> None:
        typer.echo(f"{write_results(api, [batch], out)} results written to {out}")

    with_api(retries, action)


def register(app: typer.Typer) -> None:
    """Add `ingest`, `status` and `results` to the top-level `docqueue` app."""
    app.command("ingest")(ingest)
    app.command("status")(status)
    app.command("results")(results)
