"""`docqueue estimate` and the estimate `docqueue ingest --lane` shows, as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.models import Job
from tests.support.cli import DOCQUEUE, ok, one_error, run_docqueue
from tests.support.paths import REPO
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

pytestmark = pytest.mark.e2e

FILES = 5


@pytest.fixture(scope="module")
def tenant(live: LiveStack) -> Tenant:
    """A tenant of this module's own."""
    return live.tenant("estimate-cli")


@pytest.fixture
def memos(tmp_path: Path) -> Path:
    """A folder of FILES memos and one file ingest skips (empty)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(FILES):
        (folder / f"memo-{i}.txt").write_text(f"Memo {uuid.uuid4().hex}: estimate test {i}.")
    (folder / "empty.txt").write_text("")
    return folder


def _jobs(live: LiveStack, tenant: Tenant) -> int:
    with live.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Job).where(Job.tenant_id == uuid.UUID(tenant.id))
        )
    return int(count or 0)


def test_estimate_prints_a_row_per_lane_and_the_reask_line_and_sends_nothing(
    live: LiveStack, tenant: Tenant, memos: Path
) -> None:
    args = ("estimate", str(memos), "--schema", "document_summary", "--tier", "low")
    out = ok(run_docqueue(live, tenant, *args))
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert f" {FILES} " in rows["realtime"]
    assert " 0 " in rows["batch"]
    assert "re-ask overhead: none added (no calls in the last 30 days)" in out
    assert "skipped: 1 inputs" in out
    assert _jobs(live, tenant) == 0


def test_estimate_in_several_requests_adds_up_to_the_estimate_in_one(
    live: LiveStack, tenant: Tenant, memos: Path
) -> None:
    args = ("estimate", str(memos), "--schema", "document_summary", "--tier", "low", "--json")
    one = json.loads(ok(run_docqueue(live, tenant, *args)))
    split = json.loads(ok(run_docqueue(live, tenant, *args, "--batch-size", "2")))
    assert len(split["documents"]) == len(one["documents"]) == FILES
    for key in ("documents", "input_tokens", "output_tokens", "calls"):
        assert split["lanes"]["realtime"][key] == one["lanes"]["realtime"][key]
    assert Decimal(split["lanes"]["realtime"]["cost_usd"]) == Decimal(
        one["lanes"]["realtime"]["cost_usd"]
    )


def test_estimate_with_a_batch_lane_deadline_too_soon_is_one_error_line(
    live: LiveStack, tenant: Tenant, memos: Path
) -> None:
    args = ("estimate", str(memos), "--schema", "document_summary", "--lane", "batch")
    line = one_error(run_docqueue(live, tenant, *args, "--deadline", "1h"))
    assert "deadline" in line
    assert "batch lane needs a deadline at least 26 h away" in line


def test_ingest_with_a_lane_and_yes_prints_the_estimate_then_submits(
    live: LiveStack, tenant: Tenant, memos: Path
) -> None:
    before = _jobs(live, tenant)
    args = ("ingest", str(memos), "--schema", "document_summary", "--tier", "low")
    out = ok(run_docqueue(live, tenant, *args, "--lane", "auto", "--deadline", "48h", "--yes"))
    assert "estimate: document_summary@" in out
    assert "lane: batch (auto: deadline in" in out
    assert out.strip().splitlines()[-1].startswith("batch: ")
    assert _jobs(live, tenant) == before + FILES


def test_ingest_without_a_lane_shows_no_estimate(
    live: LiveStack, tenant: Tenant, memos: Path
) -> None:
    args = ("ingest", str(memos), "--schema", "document_summary", "--tier", "low")
    out = ok(run_docqueue(live, tenant, *args))
    assert "estimate:" not in out
    assert "re-ask overhead" not in out


def _on_a_terminal(live: LiveStack, tenant: Tenant, answer: str, *args: str) -> str:
    """Run `docqueue ARGS` with a terminal for stdin that types `answer`; stdout + stderr."""
    env = {**os.environ, "DOCQUEUE_API_URL": live.api_url, "DOCQUEUE_API_KEY": tenant.api_key}
    env["COLUMNS"] = "240"
    leader, follower = os.openpty()
    try:
        os.write(leader, answer.encode() + b"\n")
        done = subprocess.run(
            [DOCQUEUE, *args],
            check=False,
            env=env,
            cwd=REPO,
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert "Traceback" not in done.stderr
    return f"{done.returncode}\n{done.stdout}{done.stderr}"


def test_ingest_with_a_lane_on_a_terminal_asks_and_a_no_sends_nothing(
    live: LiveStack, tenant: Tenant, memos: Path
) -> None:
    before = _jobs(live, tenant)
    args = ("ingest", str(memos), "--schema", "document_summary", "--tier", "low", "--lane")
    said = _on_a_terminal(live, tenant, "n", *args, "realtime")
    assert said.startswith("1\n"), said
    assert "start the ingest?" in said
    assert "not started: nothing was sent" in said
    assert _jobs(live, tenant) == before


def test_ingest_with_a_lane_on_a_terminal_starts_once_confirmed(
    live: LiveStack, tenant: Tenant, memos: Path
) -> None:
    before = _jobs(live, tenant)
    args = ("ingest", str(memos), "--schema", "document_summary", "--tier", "low", "--lane")
    said = _on_a_terminal(live, tenant, "y", *args, "realtime")
    assert said.startswith("0\n"), said
    assert "batch: " in said
    assert _jobs(live, tenant) == before + FILES
