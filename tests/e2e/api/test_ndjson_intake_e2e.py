"""NDJSON uploads on a real API: honest answers after a partial write, memory bounded in bytes."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from storage.models import Batch, Job
from tests.support.stacks import LiveStack, StackFactory

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
HEADER = {"schema": "document_summary", "tier": "low"}
NDJSON = {"content-type": "application/x-ndjson"}
RSS_GROWTH_BOUND = 150 * MIB


@pytest.fixture(scope="module")
def intake(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """An API with no workers: stored jobs stay queued, so only intake runs."""
    stack = stack_factory(name="ndjson", workers=[], scheduler=False)
    yield stack
    stack.close()


def _body(lines: list[Any]) -> bytes:
    out = [json.dumps(HEADER).encode()]
    out += [line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines]
    return b"\n".join(out) + b"\n"


def _stored(stack: LiveStack, batch_id: str) -> tuple[int, int]:
    """(jobs stored in the batch, the batch's recorded total)."""
    with stack.session() as session:
        jobs = session.scalar(
            select(func.count()).select_from(Job).where(Job.batch_id == uuid.UUID(batch_id))
        )
        total = session.scalar(select(Batch.total).where(Batch.id == uuid.UUID(batch_id)))
    return int(jobs or 0), int(total or 0)


def test_unstorable_lines_at_601_are_rejected_by_number_and_the_answer_matches_the_rows(
    intake: LiveStack,
) -> None:
    lines: list[Any] = [{"text": f"Memo {n} of the audit."} for n in range(699)]
    lines[599] = {"text": "Infinite memo.", "metadata": {"amount": 1e999}}  # line 601
    lines[600] = b'{"text": "a raw \x00 in the line"}'  # line 602: not JSON
    lines[601] = {"text": "Memo.", "filename": "nul\x00.txt"}  # line 603: unstorable
    with intake.client(intake.tenant("nul-601"), timeout=120) as client:
        resp = client.post("/v1/batches", content=_body(lines), headers=NDJSON)
    assert resp.status_code == 202, resp.text[:500]
    answer = resp.json()
    assert [r["line"] for r in answer["rejected_lines"]] == [601, 602, 603]
    assert answer["rejected"] == 3
    assert (answer["created"], answer["complete"], answer["error"]) == (696, True, None)
    assert _stored(intake, answer["id"]) == (696, 696) == (answer["created"], answer["total"])


def test_a_database_failure_after_a_commit_is_a_202_that_says_exactly_what_was_stored(
    intake: LiveStack,
) -> None:
    marker = f"explode-{uuid.uuid4().hex[:8]}.txt"
    lines: list[Any] = [{"text": f"Memo {n}."} for n in range(700)]
    lines[599] = {"text": "The 600th memo.", "filename": marker}  # line 601, second chunk
    with intake.session() as session:  # a real failure inside Postgres, mid-upload
        session.execute(
            text(
                "CREATE FUNCTION dq_test_explode() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER dq_test_explode BEFORE INSERT ON jobs FOR EACH ROW "
                f"WHEN (NEW.filename = '{marker}') EXECUTE FUNCTION dq_test_explode()"
            )
        )
    try:
        with intake.client(intake.tenant("partial"), timeout=120) as client:
            resp = client.post("/v1/batches", content=_body(lines), headers=NDJSON)
            assert client.get("/health").status_code == 200
    finally:
        with intake.session() as session:
            session.execute(text("DROP TRIGGER dq_test_explode ON jobs"))
            session.execute(text("DROP FUNCTION dq_test_explode()"))
    assert resp.status_code == 202, resp.text[:500]
    answer = resp.json()
    assert answer["complete"] is False
    assert answer["stopped_at_line"] == 502  # the first line of the chunk that failed
    assert answer["error"]["type"] == "upload_interrupted"
    assert "nothing from line 502 on was stored" in answer["error"]["message"]
    assert "injected failure" not in answer["error"]["message"]
    assert answer["created"] == 500
    assert _stored(intake, answer["id"]) == (500, 500) == (answer["created"], answer["total"])


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing for pid {pid}")


def _large_lines(count: int, size: int) -> Iterator[bytes]:
    yield json.dumps(HEADER).encode() + b"\n"
    words = "the audit of the quarter passed without findings. "
    for n in range(count):
        text_ = f"Report {n} {uuid.uuid4()}: " + words * (size // len(words))
        yield json.dumps({"text": text_, "filename": f"r{n}.txt"}).encode() + b"\n"


@pytest.mark.faults  # slow: `make test-faults`
def test_forty_ten_mib_lines_grow_the_api_process_by_less_than_150_mib(
    intake: LiveStack,
) -> None:
    pid = intake.stack.procs["api"].pid
    with intake.client(intake.tenant("big-lines"), timeout=600) as client:
        assert client.get("/health").status_code == 200
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak RSS restarts from now
        baseline = _status_kib(pid, "VmRSS") * 1024
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _status_kib(pid, "VmRSS") * 1024)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        try:
            resp = client.post("/v1/batches", content=_large_lines(40, 10 * MIB), headers=NDJSON)
        finally:
            done.set()
            sampler.join()
        took = time.monotonic() - started
    hwm = _status_kib(pid, "VmHWM") * 1024
    growth = max(hwm, peak[0]) - baseline
    print(
        f"\n40 x 10 MiB NDJSON lines in {took:.1f} s: API RSS {baseline / MIB:.0f} MiB before, "
        f"peak {max(hwm, peak[0]) / MIB:.0f} MiB (+{growth / MIB:.0f} MiB)"
    )
    assert resp.status_code == 202, resp.text[:500]
    assert resp.json()["created"] == 40
    assert growth < RSS_GROWTH_BOUND
