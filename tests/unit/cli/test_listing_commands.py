"""Pure parts of `docqueue batches`, `cancel`, `retry`, `usage`, `schemas` and `--help`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from scripts.cli import app
from scripts.client import BatchSummary, NotFoundError, UsageLine
from scripts.client.models import BATCH_STATUSES
from scripts.commands import batches, catalog, common, usage

ENV_VARS = (
    "DOCQUEUE_API_URL",
    "DOCQUEUE_API_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "DOCQUEUE_CONFIG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def summary(answer: dict[str, Any] | None = None, **counts: int) -> BatchSummary:
    """A batch view with these counts (and any other fields of the answer)."""
    full = {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0, **counts}
    return BatchSummary.from_api(
        {
            "id": "b1",
            "schema": "invoice@1",
            "tier": "low",
            "total": sum(full.values()),
            "counts": full,
            "progress": 0.5,
            "usage": {"input_tokens": 1, "output_tokens": 1, "cost_usd": "0.25"},
            "created_at": "2026-05-01T10:00:00+02:00",
            "cancelled_at": None,
            "finished_at": None,
            **(answer or {}),
        }
    )


def test_since_and_until_dates_cover_whole_utc_days_and_times_pass_as_rfc_3339() -> None:
    assert batches.parse_when("2026-05-01", option="--since") == (
        "2026-04-30T23:59:59.999999+00:00"  # the API's bound is exclusive
    )
    assert batches.parse_when("2026-05-01", option="--until", end=True) == (
        "2026-05-02T00:00:00+00:00"
    )
    assert batches.parse_when("2026-05-01T08:30:00Z", option="--until", end=True) == (
        "2026-05-01T08:30:00+00:00"
    )
    assert batches.parse_when(None, option="--since") is None
    with pytest.raises(typer.BadParameter, match="neither a date"):
        batches.parse_when("last tuesday", option="--since")


def test_a_batch_row_shows_status_progress_counts_cost_and_the_utc_creation_time() -> None:
    row = batches.batch_row(summary({"status": "running"}, queued=2, succeeded=1, failed=1))
    assert row == (
        "b1",
        "invoice@1",
        "low",
        "running",
        "1 failed",
        "2/4 (50%)",
        "queued 2 succeeded 1 failed 1",
        "0.250000",
        "2026-05-01 08:00:00Z",
    )
    assert len(row) == len(batches.COLUMNS)


@pytest.mark.parametrize(
    ("answer", "counts", "status", "note"),
    [
        (
            {"status": "finished", "finished_at": "2026-05-01T11:00Z"},
            {"succeeded": 2},
            "finished",
            "-",
        ),
        (
            {"status": "finished", "finished_at": "2026-05-01T11:00Z"},
            {"succeeded": 1, "failed": 3},
            "finished",  # not the client's "partial": --status filters on the API's words
            "3 failed",
        ),
        (
            {"status": "queued", "killswitch": {"on": True}},
            {"queued": 2},
            "queued",
            "paused (kill switch)",
        ),
        (
            {"status": "cancelled", "cancelled_at": "2026-05-01T10:30Z"},
            {"running": 2, "cancelled": 3},
            "cancelled",  # not "cancelling"
            "2 running will finish",
        ),
    ],
)
def test_the_status_column_is_the_apis_word_and_the_note_says_the_rest(
    answer: dict[str, Any], counts: dict[str, int], status: str, note: str
) -> None:
    row = batches.batch_row(summary(answer, **counts))
    assert (row[batches.COLUMNS.index("status")], row[batches.COLUMNS.index("note")]) == (
        status,
        note,
    )
    assert status in BATCH_STATUSES  # what --status takes


def test_a_cancel_says_how_many_jobs_it_cancelled_and_how_many_still_run() -> None:
    line = batches.cancel_line(summary(queued=5, running=2), summary(running=2, cancelled=5))
    assert line.startswith("batch b1: cancelled 5 job(s) not started; 2 running will finish")


def test_a_retry_says_how_many_jobs_it_queued_again_and_how_many_stay_failed() -> None:
    line = batches.requeue_line(summary(failed=3, cancelled=2), summary(queued=4, failed=1))
    assert line.startswith("batch b1: requeued 4 job(s); 1 stay failed")


def test_usage_rows_show_each_lane_and_the_totals_sum_the_report() -> None:
    lines = [
        UsageLine.from_api(
            {"day": "2026-05-01", "model": "gpt", "tier": "low", "calls": 1200,
             "input_tokens": 5, "output_tokens": 6, "cached_tokens": 0, "cost_usd": "0.1"}
        ),
        UsageLine.from_api(
            {"day": "2026-05-01", "model": "gpt", "tier": "low", "lane": "batch", "calls": 1,
             "input_tokens": 5, "output_tokens": 6, "cached_tokens": 2, "cost_usd": "0.05"}
        ),
    ]  # fmt: skip
    rows = usage.usage_rows(lines)
    assert [r[3] for r in rows] == ["realtime", "batch"]
    assert rows[0][4:] == ("1,200", "5", "6", "0", "0.100000")
    totals = {"calls": 1201, "input_tokens": 10, "output_tokens": 12, "cached_tokens": 2}
    assert usage.totals_row({**totals, "cost_usd": Decimal("0.15")}) == (
        "total", "", "", "", "1,201", "10", "12", "2", "0.150000",
    )  # fmt: skip


def test_the_budget_rows_say_none_when_there_is_no_daily_budget() -> None:
    budget: dict[str, Any] = {
        "month": "2026-05", "day": "2026-05-04", "monthly_budget_usd": "100",
        "daily_budget_usd": None, "month_spent_usd": "1.5", "month_reserved_usd": "0",
        "day_spent_usd": "0.5", "day_reserved_usd": "0.01",
    }  # fmt: skip
    month, day = usage.budget_rows(budget)
    assert month == ("month 2026-05", "100.000000", "1.500000", "0.000000")
    assert day == ("day 2026-05-04", "none", "0.500000", "0.010000")
    with pytest.raises(typer.BadParameter):
        usage.parse_day("May", option="--since")
    assert usage.parse_day("2026-05-01", option="--since") == "2026-05-01"


def test_schemas_list_your_extractors_first_then_the_built_ins_without_archived_ones() -> None:
    builtin = [{"name": "invoice", "version": "3", "description": "Invoices"}]
    extractors = [
        {"name": "invoice", "owner": "system", "latest_version": 1},
        {"name": "claims", "owner": "tenant", "latest_version": 2, "description": "Claims"},
        {"name": "old", "owner": "tenant", "latest_version": 1, "archived": True},
    ]
    assert catalog.schema_rows(builtin, extractors) == [
        ("claims", "tenant", "@2", "Claims"),
        ("invoice", "system", "3", "Invoices"),
    ]


def test_a_retry_is_announced_as_retry_number_of_the_maximum_with_its_wait() -> None:
    line = common.retry_line(2, 5, 1.6, "HTTP 503 overloaded: later")
    assert line == "retrying (2/5) in 1.6 s: HTTP 503 overloaded: later…"


def test_a_client_error_in_a_command_is_one_error_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def action() -> None:
        raise NotFoundError(
            "HTTP 404 not_found: batch b1", status=404, type_="not_found", api_message="batch b1"
        )

    with pytest.raises(typer.Exit) as caught:
        common.guarded(action)
    assert caught.value.exit_code == 1
    assert capsys.readouterr().err == "error: HTTP 404 not_found: batch b1\n"


def test_the_help_says_what_docqueue_is_names_its_environment_and_shows_an_example() -> None:
    done = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"}, prog_name="docqueue")
    assert done.exit_code == 0, done.output
    assert "structured LLM extraction" in done.output
    for name in ENV_VARS:
        assert name in done.output
    assert "export DOCQUEUE_API_KEY=" in done.output
    assert "docqueue ingest ./invoices --schema invoice --wait --out results.csv" in done.output


COMMANDS = (
    "ingest", "status", "results", "batches", "cancel", "retry", "usage", "schemas",
    "extractors", "rerun", "diff", "extractor create", "extractor list", "extractor show",
    "extractor archive", "extractor infer", "tenant create", "db upgrade", "killswitch",
)  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_the_help_names_is_registered_with_its_own_usage_line(command: str) -> None:
    done = CliRunner().invoke(
        app, [*command.split(), "--help"], env={"COLUMNS": "120"}, prog_name="docqueue"
    )
    assert done.exit_code == 0, done.output
    assert f"Usage: docqueue {command} " in done.output
