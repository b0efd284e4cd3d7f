"""`docqueue ingest --lane --deadline` as a real subprocess: what each job stores."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Batch, Job
from tests.support.cli import ok, run_docqueue
from tests.support.stacks import LiveStack

pytestmark = pytest.mark.e2e

WINDOW = "the 24 h batch window plus 2 h margin"


def _memos(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        (folder / f"memo-{i}.txt").write_text(f"Memo {uuid.uuid4().hex}: lane test {i}.")


def _batch_id(stdout: str) -> uuid.UUID:
    return uuid.UUID(stdout.strip().splitlines()[-1].removeprefix("batch: "))


def test_ingest_with_auto_and_a_90m_deadline_stores_realtime_and_the_deadline_on_every_job(
    live: LiveStack, tmp_path: Path
) -> None:
    tenant = live.tenant("ingest-lanes")
    _memos(tmp_path / "in", 3)
    before = dt.datetime.now(dt.UTC)
    out = ok(
        run_docqueue(
            live, tenant, "ingest", str(tmp_path / "in"), "--schema", "document_summary",
            "--tier", "low", "--lane", "auto", "--deadline", "90m",
        )
    )  # fmt: skip
    batch_id = _batch_id(out)
    with live.session() as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        assert batch.lane == "auto"
        jobs = session.execute(
            select(Job.lane, Job.lane_reason, Job.deadline).where(Job.batch_id == batch_id)
        ).all()
    assert len(jobs) == 3
    assert {(j.lane, j.lane_reason) for j in jobs} == {
        ("realtime", f"auto: deadline in 1.5 h is sooner than {WINDOW}")
    }
    [deadline] = {j.deadline for j in jobs}  # resolved once: one deadline for the ingest
    assert deadline is not None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=90)
    assert before + dt.timedelta(minutes=90) <= deadline <= later


def test_ingest_refuses_a_deadline_without_an_offset_before_sending_anything(
    live: LiveStack, tmp_path: Path
) -> None:
    tenant = live.tenant("ingest-lanes-naive")
    _memos(tmp_path / "in", 1)
    done = run_docqueue(
        live, tenant, "ingest", str(tmp_path / "in"), "--schema", "document_summary",
        "--lane", "batch", "--deadline", "2027-01-01T09:00:00",
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr  # typer's usage error
    assert "needs an offset" in done.stderr
    with live.session() as session:
        assert (
            session.scalars(select(Batch.id).where(Batch.tenant_id == uuid.UUID(tenant.id))).first()
            is None
        )
