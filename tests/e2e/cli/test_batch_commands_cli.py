"""The listing and batch commands as real subprocesses against the shared live stack.

`docqueue batches`, `cancel`, `retry`, `usage`, `schemas` and `extractors`, and how a
retrying command tells its waits.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from scripts.client import Client
from scripts.devstack.ports import free_port
from tests.support.cli import ok, one_error, run_docqueue
from tests.support.paths import REPO
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

pytestmark = pytest.mark.e2e

MEMO = "Memo {tag}-{i}: the Bodø depot opens on 2026-07-{day:02d}; trucks park at gate {i}."
CLAIMS_SCHEMA = REPO / "scripts" / "samples" / "extractors" / "claims_form.json"


def submit(live: LiveStack, tenant: Tenant, n: int, *, slow: bool = False) -> dict[str, Any]:
    """A batch of `n` memos for `tenant` (slow ones hold their call 1.5 s)."""
    tag = uuid.uuid4().hex[:8]
    docs = [
        MEMO.format(tag=tag, i=i, day=i + 1) + (" [[sim:latency_ms=1500]]" if slow else "")
        for i in range(n)
    ]
    with Client(live.api_url, tenant.api_key) as dq:
        return dq.submit_batch(docs, schema="document_summary", tier="low")


def finish(live: LiveStack, tenant: Tenant, batch_id: str) -> dict[str, Any]:
    """Wait for the batch to finish."""
    with Client(live.api_url, tenant.api_key) as dq:
        return dq.wait_batch(batch_id, timeout_s=120)


def listed(live: LiveStack, tenant: Tenant, *args: str) -> list[str]:
    """The batch ids `docqueue batches --json ARGS` prints, in its order."""
    return [b["id"] for b in json.loads(ok(run_docqueue(live, tenant, "batches", "--json", *args)))]


@pytest.fixture(scope="module")
def lister(live: LiveStack) -> tuple[Tenant, list[str]]:
    """A tenant with two finished batches (ids oldest first)."""
    tenant = live.tenant("cli-batches")
    made = [submit(live, tenant, n)["id"] for n in (2, 3)]
    for batch_id in made:
        finish(live, tenant, batch_id)
    return tenant, made


def test_batches_lists_each_batch_with_its_status_progress_counts_and_cost(
    live: LiveStack, lister: tuple[Tenant, list[str]]
) -> None:
    tenant, made = lister
    out = ok(run_docqueue(live, tenant, "batches"))
    lines = out.splitlines()
    header = next([c.strip() for c in line.split("┃")[1:-1]] for line in lines if "┃" in line)
    assert header[:5] == ["id", "schema", "tier", "status", "note"]
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if "│" in line]
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in cells}
    for batch_id, n in zip(made, (2, 3), strict=True):
        row = rows[batch_id]
        assert row["schema"].startswith("document_summary")
        assert row["status"] == "finished"  # the API's word, the one --status takes
        assert row["note"] == "-"
        assert row["progress"] == f"{n}/{n} (100%)"
        assert row["counts"] == f"succeeded {n}"
    assert listed(live, tenant, "--limit", "1") == [made[1]]  # newest first, one asked for
    assert set(listed(live, tenant, "--status", "finished")) == set(made)
    assert listed(live, tenant, "--status", "queued") == []
    today = dt.datetime.now(dt.UTC).date()
    assert listed(live, tenant, "--since", (today + dt.timedelta(days=1)).isoformat()) == []
    assert set(listed(live, tenant, "--since", today.isoformat())) == set(made)
    assert set(listed(live, tenant, "--until", today.isoformat())) == set(made)


def test_a_since_that_is_no_date_is_a_usage_error(live: LiveStack) -> None:
    done = run_docqueue(live, live.alice, "batches", "--since", "last tuesday")
    assert done.returncode == 2
    assert "neither a date" in done.stderr


def test_cancel_then_retry_say_how_many_jobs_they_changed(live: LiveStack) -> None:
    tenant = live.tenant("cli-cancel", concurrency=1)  # one job at a time: the rest wait
    batch_id = submit(live, tenant, 5, slow=True)["id"]
    cancel = ok(run_docqueue(live, tenant, "cancel", batch_id)).splitlines()
    assert cancel[0].startswith(f"batch {batch_id}: cancelled ")
    assert int(cancel[0].split("cancelled ")[1].split()[0]) >= 3
    assert "(of 5)" in cancel[1]
    finish(live, tenant, batch_id)
    retry = ok(run_docqueue(live, tenant, "retry", batch_id)).splitlines()
    requeued = int(retry[0].split("requeued ")[1].split()[0])
    assert requeued >= 3
    assert f"queued {requeued}" in retry[1]
    final = finish(live, tenant, batch_id)
    assert final["counts"]["succeeded"] == 5


def test_cancelling_an_unknown_batch_is_one_error_line(live: LiveStack) -> None:
    line = one_error(run_docqueue(live, live.alice, "cancel", str(uuid.uuid4())))
    assert line.startswith("error: HTTP 404 not_found:")


def test_usage_shows_each_day_model_tier_and_lane_with_totals_and_the_budget(
    live: LiveStack, lister: tuple[Tenant, list[str]]
) -> None:
    tenant, _ = lister
    out = ok(run_docqueue(live, tenant, "usage"))
    today = dt.datetime.now(dt.UTC).date().isoformat()
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines() if "│" in line]
    days = [row for row in cells if row[0] == today]  # day, model, tier, lane, numbers...
    assert days, out
    assert all(row[2] == "low" and row[3] == "realtime" for row in days), days
    assert sum(int(row[4]) for row in days) >= 5  # calls: one per document at least
    assert any(row[0] == "total" for row in cells)
    assert any(row[0] == f"day {today}" for row in cells)  # the budget's day
    assert "budget (USD)" in out
    assert "1000.000000" in out  # the tenant's monthly budget
    report = json.loads(ok(run_docqueue(live, tenant, "usage", "--since", today, "--json")))
    assert report["since"] == today
    assert report["totals"]["calls"] >= 5


def test_schemas_lists_the_built_ins_and_your_extractors_and_extractors_is_extractor_list(
    live: LiveStack,
) -> None:
    tenant = live.tenant("cli-schemas")
    create = ("extractor", "create", "claims_form", "--schema", str(CLAIMS_SCHEMA))
    assert ok(run_docqueue(live, tenant, *create)).strip() == "created claims_form@1"
    out = ok(run_docqueue(live, tenant, "schemas"))
    names = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert "@1" in names["claims_form"]
    assert " tenant " in names["claims_form"]
    for built_in in ("invoice", "contract", "resume", "document_summary"):
        assert " system " in names[built_in]
    assert ok(run_docqueue(live, tenant, "extractors")) == ok(
        run_docqueue(live, tenant, "extractor", "list")
    )


def test_a_command_that_retries_tells_each_wait_on_stderr_then_fails_in_one_line(
    live: LiveStack,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    done = run_docqueue(live, live.alice, "status", str(uuid.uuid4()), "--retries", "3", url=dead)
    waits = [line for line in done.stderr.splitlines() if line.startswith("retrying (")]
    assert [w.split(")")[0] for w in waits] == ["retrying (1/2", "retrying (2/2"]
    assert all(" s: " in w and "refused" in w.lower() for w in waits), waits
    assert dead in one_error(done)


def test_an_api_url_without_a_scheme_is_one_error_line_at_once_without_retries(
    live: LiveStack,
) -> None:
    done = run_docqueue(live, live.alice, "batches", url=live.api_url.split("://", 1)[1])
    assert "DOCQUEUE_API_URL must start with http:// or https://" in one_error(done)
    assert "retrying (" not in done.stderr


def test_a_command_without_a_key_says_which_variable_to_set(live: LiveStack) -> None:
    line = one_error(run_docqueue(live, None, "batches"))
    assert "set DOCQUEUE_API_KEY" in line
