"""`docqueue ingest/status/results` as a real subprocess against a real stack."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from reportlab.pdfgen import canvas
from sqlalchemy import func, select

from scripts.devstack.ports import free_port
from storage.models import Batch, Job
from tests.support.paths import REPO
from tests.support.stacks import LiveStack, StackFactory, WorkerSpec
from tests.support.tenants import Tenant
from tests.support.waits import wait_for

pytestmark = pytest.mark.e2e

DOCQUEUE = str(Path(sys.executable).with_name("docqueue"))
SCHEMA = "document_summary"


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """An isolated stack with one worker and an instant simulator."""
    live = stack_factory(
        name="ingest", workers=[WorkerSpec("w1", concurrency=32)], sim_latency_ms=0
    )
    yield live
    live.close()


def run_cli(
    stack: LiveStack, tenant: Tenant, *args: str, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `docqueue ARGS` with the API URL and key in the environment."""
    env = {
        **os.environ,
        "DOCQUEUE_API_URL": url or stack.api_url,
        "DOCQUEUE_API_KEY": tenant.api_key,
    }
    return subprocess.run(
        [DOCQUEUE, *args],
        check=False,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def key_of(content: bytes) -> str:
    """The key the CLI derives: sha256 of the bytes and the schema."""
    return hashlib.sha256(content + b"\0" + SCHEMA.encode()).hexdigest()


def make_folder(root: Path) -> dict[str, bytes]:
    """One document of every supported kind, in a tree; returns relative path -> bytes."""
    (root / "notes" / "deep").mkdir(parents=True)
    (root / "notes" / "a.txt").write_text("Memo: the roof repair is booked for 2026-05-04.")
    (root / "notes" / "deep" / "b.md").write_text("# Minutes\n\nBudget approved: 12,000 EUR.")
    (root / "page.html").write_text(
        "<html><body><h1>Notice</h1><p>Office closed on Friday.</p></body></html>"
    )
    document = docx.Document()
    document.add_paragraph("Contract summary: 24 months, renewal by notice.")
    document.save(str(root / "contract.docx"))
    pdf = canvas.Canvas(str(root / "report.pdf"))
    pdf.drawString(72, 720, "Quarterly report: revenue grew 8 percent.")
    pdf.save()
    (root / "ignored.bin").write_bytes(b"\x00\x01 not a document")
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".bin"
    }


def tenant_jobs(stack: LiveStack, tenant: Tenant) -> list[str | None]:
    """The idempotency keys of the tenant's jobs."""
    with stack.session() as session:
        return list(
            session.scalars(
                select(Job.idempotency_key).where(Job.tenant_id == uuid.UUID(tenant.id))
            )
        )


def test_ingest_folder_waits_writes_results_and_a_rerun_creates_no_jobs(
    stack: LiveStack, tmp_path: Path
) -> None:
    tenant = stack.tenant("cli-folder")
    files = make_folder(tmp_path / "docs")
    out = tmp_path / "results.jsonl"
    first = run_cli(
        stack, tenant, "ingest", str(tmp_path / "docs"), "--schema", SCHEMA, "--wait",
        "--out", str(out), "--batch-size", "2",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(files) + 1 == 6  # ignored.bin is a row too: skipped, with why
    (skipped,) = [row for row in rows if row["input_state"] == "skipped"]
    assert skipped["path"].endswith("ignored.bin")
    assert skipped["error"]["message"] == "unknown type (.bin): not text, PDF or DOCX"
    lines = [row for row in rows if row is not skipped]
    by_key = {line["key"]: line for line in lines}
    assert set(by_key) == {key_of(content) for content in files.values()}
    for name, content in files.items():
        line = by_key[key_of(content)]
        assert line["status"] == "succeeded", line
        assert line["filename"].endswith(name)
        assert line["path"].endswith(name)
        assert line["metadata"]["path"].endswith(name)
    assert "succeeded" in first.stdout
    keys = tenant_jobs(stack, tenant)
    # Another grouping (default --batch-size): the same ingest, so the same batch; nothing
    # is created.
    again_out = tmp_path / "again.jsonl"
    again = run_cli(
        stack, tenant, "ingest", str(tmp_path / "docs"), "--schema", SCHEMA, "--out",
        str(again_out),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert sorted(tenant_jobs(stack, tenant), key=str) == sorted(keys, key=str)
    assert len(keys) == 5
    again_lines = [json.loads(line) for line in again_out.read_text().splitlines()]
    assert [line["id"] for line in again_lines] == [row["id"] for row in rows]
    batch_id = _batch_of(stack, lines[0]["id"])
    assert first.stdout.strip().splitlines()[-1] == f"batch: {batch_id}"  # one id to follow
    assert again.stdout.strip().splitlines()[-1] == f"batch: {batch_id}"
    status = run_cli(stack, tenant, "status", batch_id)
    assert status.returncode == 0, status.stderr
    assert "succeeded" in status.stdout
    table = tmp_path / "batch.csv"
    fetched = run_cli(stack, tenant, "results", batch_id, "-o", str(table))
    assert fetched.returncode == 0, fetched.stderr
    with table.open() as fh:
        results = list(csv.DictReader(fh))
    assert len(results) == 5
    assert {r["key"] for r in results} == set(by_key)
    assert all(r["result.title"] and r["status"] == "succeeded" for r in results)
    assert {r["path"] for r in results} == {line["filename"] for line in lines}


def _batch_of(stack: LiveStack, job_id: str) -> str:
    with stack.session() as session:
        return str(session.scalar(select(Job.batch_id).where(Job.id == uuid.UUID(job_id))))


@pytest.mark.faults  # slow: `make test-faults`
def test_ingest_killed_mid_upload_then_rerun_has_one_job_per_document(
    stack: LiveStack, tmp_path: Path
) -> None:
    tenant = stack.tenant("cli-kill")
    folder = tmp_path / "many"
    folder.mkdir()
    contents = [f"Note {i}: deliver pallet {i} to dock {i % 7}.".encode() for i in range(1500)]
    for i, content in enumerate(contents):
        (folder / f"note-{i:04d}.txt").write_bytes(content)
    env = {**os.environ, "DOCQUEUE_API_URL": stack.api_url, "DOCQUEUE_API_KEY": tenant.api_key}
    args = [DOCQUEUE, "ingest", str(folder), "--schema", SCHEMA, "--batch-size", "10"]
    proc = subprocess.Popen(
        args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def acknowledged() -> int:
            with stack.session() as session:
                return int(
                    session.scalar(
                        select(func.count())
                        .select_from(Batch)
                        .where(Batch.tenant_id == uuid.UUID(tenant.id), Batch.total > 0)
                    )
                    or 0
                )

        wait_for(acknowledged, timeout=60, every=0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    at_kill = len(tenant_jobs(stack, tenant))
    assert 0 < at_kill < len(contents), "the kill must land mid-upload"
    rerun = run_cli(stack, tenant, "ingest", str(folder), "--schema", SCHEMA, "--batch-size", "10")
    assert rerun.returncode == 0, rerun.stderr
    keys = tenant_jobs(stack, tenant)
    assert len(keys) == len(set(keys)) == len(contents)  # no duplicates, no gaps
    assert set(keys) == {f"doc:{key_of(c)}" for c in contents}


def test_unreachable_api_is_one_line_error_and_nonzero_exit(
    stack: LiveStack, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("hello")
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_cli(
        stack, stack.alice, "ingest", str(tmp_path), "--schema", SCHEMA, "--retries", "2", url=dead
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert dead in errors[0]


def test_missing_path_and_unknown_schema_are_one_line_errors(
    stack: LiveStack, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("hello")
    missing = run_cli(stack, stack.alice, "ingest", str(tmp_path / "nope"), "--schema", SCHEMA)
    unknown = run_cli(stack, stack.alice, "ingest", str(tmp_path), "--schema", "horoscope")
    for result, expected in ((missing, "no such file"), (unknown, "unknown_schema")):
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert expected in result.stderr.strip().splitlines()[-1]


def test_odd_inputs_never_stop_an_ingest_and_an_out_file_inside_the_folder_resumes(
    stack: LiveStack, tmp_path: Path
) -> None:
    tenant = stack.tenant("cli-odd")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / os.fsdecode(b"caf\xe9.txt")).write_text("Invoice 7 from a legacy share.")
    (docs / "report[1].txt").write_text("The file with brackets in its name.")
    (docs / "report1.txt").write_text("What a glob of that name would match.")
    rows = tmp_path / "rows.jsonl"
    good = [{"text": "Row one: the order shipped."}, {"text": "Row five: it arrived."}]
    bad = [{"text": 0}, {"text": "x", "metadata": {"n": "\0"}}, {"content_base64": []}]
    rows.write_text("\n".join(json.dumps(x) for x in [good[0], *bad, good[1]]) + "\n")
    out = docs / "results.csv"
    args = ["ingest", str(docs), str(rows), "--schema", SCHEMA, "--wait", "--out", str(out)]
    first = run_cli(stack, tenant, *args)
    assert first.returncode == 0, first.stderr
    with out.open(newline="") as fh:
        written = {Path(r["path"]).name: r for r in csv.DictReader(fh)}
    assert sorted(written) == sorted(
        ["caf\\xe9.txt", "report1.txt", "report[1].txt"] + [f"rows.jsonl:{n}" for n in range(1, 6)]
    )
    assert [written[f"rows.jsonl:{n}"]["status"] for n in range(1, 6)] == [
        "succeeded", "skipped", "skipped", "skipped", "succeeded",
    ]  # fmt: skip
    assert written["caf\\xe9.txt"]["status"] == "succeeded"
    assert written["report[1].txt"]["key"] == key_of(b"The file with brackets in its name.")
    batch_line = first.stdout.strip().splitlines()[-1]
    jobs = sorted(tenant_jobs(stack, tenant), key=str)
    assert len(jobs) == 5
    # results.csv now sits in the folder: not an input, so the same batch, nothing new.
    again = run_cli(stack, tenant, *args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == batch_line
    assert sorted(tenant_jobs(stack, tenant), key=str) == jobs
