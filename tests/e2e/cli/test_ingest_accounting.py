"""`docqueue ingest` accounts for every input: 60 files in, 60 rows out, one batch to follow."""

from __future__ import annotations

import csv
import re
import uuid
from pathlib import Path

import openpyxl
import pytest
from reportlab.pdfgen import canvas
from sqlalchemy import func, select

from storage.models import Batch, Job
from tests.e2e.cli.test_ingest_cli import SCHEMA, run_cli
from tests.support.stacks import LiveStack

pytestmark = pytest.mark.e2e

COLUMNS = [
    "path", "status", "tier", "model", "cost_usd", "error_type", "error_message",
    "duplicate_of", "job_id", "key", "review_state", "confidence",
    # document_summary's fields
    "result.title", "result.summary", "result.key_points", "result.entities", "result.language",
]  # fmt: skip
SKIPS = {
    ".DS_Store": "unknown type (no extension): not text, PDF or DOCX",
    "empty.txt": "empty file",
    "junk.bin": "unknown type (.bin): not text, PDF or DOCX",
}


def make_sixty(root: Path) -> list[str]:
    """52 notes, 3 byte-identical copies, 2 extensionless (text, PDF), 3 to skip."""
    (root / "sub").mkdir(parents=True)
    for i in range(52):
        (root / ("sub" if i % 4 == 0 else ".") / f"note-{i:02d}.txt").write_text(
            f"Note {i}: deliver pallet {i} to dock {i % 7}."
        )
    for i in (1, 2, 3):
        (root / f"copy-{i}.txt").write_text("The same memo, three times.")
    (root / "NOTES").write_text("Plain text with no extension: the stand-up moved to 10:00.")
    pdf = canvas.Canvas(str(root / "scan"))
    pdf.drawString(72, 720, "A PDF without an extension: invoice 42 is paid.")
    pdf.save()
    (root / "empty.txt").write_bytes(b"")
    (root / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00\x00\x00\x08\x00")
    found = [str(p) for p in sorted(root.rglob("*")) if p.is_file()]
    assert len(found) == 60
    return found


def _fact(stdout: str, name: str) -> int:
    match = re.search(rf"{re.escape(name)}\W+(\d+)\W", stdout)
    assert match, stdout
    return int(match.group(1))


def test_sixty_files_in_make_sixty_rows_out_and_one_batch_a_rerun_creates_nothing(
    live: LiveStack, tmp_path: Path
) -> None:
    tenant = live.tenant("cli-sixty")
    folder = tmp_path / "docs"
    paths = make_sixty(folder)
    out = tmp_path / "results.csv"
    first = run_cli(
        live, tenant, "ingest", str(folder), "--schema", SCHEMA, "--wait", "--out", str(out),
        "--batch-size", "20",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    with out.open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == COLUMNS
    assert [row["path"] for row in rows] == paths  # every input, in input order
    by_name = {Path(row["path"]).name: row for row in rows}
    for name, reason in SKIPS.items():
        assert (by_name[name]["status"], by_name[name]["error_message"]) == ("skipped", reason)
        assert by_name[name]["job_id"] == ""
    copies = [by_name[f"copy-{i}.txt"] for i in (1, 2, 3)]
    assert len({row["job_id"] for row in copies}) == 1  # one shared job
    assert [row["duplicate_of"] for row in copies] == ["", copies[0]["path"], copies[0]["path"]]
    sent = [row for name, row in by_name.items() if name not in SKIPS]
    assert all(row["status"] == "succeeded" and row["result.title"] for row in sent), sent
    assert all(row["tier"] in ("low", "medium", "high") and row["model"] for row in sent), sent
    # A job's cost is on its first path's row only: the column sums to what was billed.
    assert all(float(row["cost_usd"]) > 0 for row in sent if not row["duplicate_of"])
    assert [row["cost_usd"] for row in copies[1:]] == ["0", "0"]
    assert by_name["scan"]["result.summary"]  # the server read the extensionless PDF
    assert by_name["NOTES"]["key"]
    # The summary accounts for all 60, and names each skip.
    text = first.stdout
    assert [_fact(text, n) for n in ("inputs found", "documents sent", "new jobs")] == [60, 55, 55]
    assert _fact(text, "duplicates of other paths here") == 2
    assert _fact(text, "already processed in earlier batches") == 0
    assert _fact(text, "skipped") == 3
    assert _fact(text, "succeeded") == 57  # the copies count as their shared job did
    for name, reason in SKIPS.items():
        assert f"{folder / name}: {reason}" in text
    # One id to follow, on the last line.
    batch_lines = [line for line in text.splitlines() if line.startswith("batch")]
    assert len(batch_lines) == 1
    batch_id = batch_lines[0].removeprefix("batch: ")
    assert text.strip().splitlines()[-1] == f"batch: {batch_id}"
    with live.session() as session:
        batches = session.scalars(
            select(Batch.id).where(Batch.tenant_id == uuid.UUID(tenant.id))
        ).all()
        jobs = session.scalar(
            select(func.count()).select_from(Job).where(Job.tenant_id == uuid.UUID(tenant.id))
        )
    assert [str(b) for b in batches] == [batch_id]
    assert jobs == 55
    # The same command again (as an .xlsx this time): the same batch, nothing created.
    book = tmp_path / "results.xlsx"
    again = run_cli(live, tenant, "ingest", str(folder), "--schema", SCHEMA, "--out", str(book))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == f"batch: {batch_id}"
    assert _fact(again.stdout, "new jobs") == 0
    assert _fact(again.stdout, "already in this batch") == 55
    with live.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Job).where(Job.tenant_id == uuid.UUID(tenant.id))
            )
            == 55
        )
    sheet = openpyxl.load_workbook(book)["results"]
    table = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert table[0] == COLUMNS
    assert [row[0] for row in table[1:]] == paths
    assert [row[8] for row in table[1:]] == [row["job_id"] or None for row in rows]


def test_an_out_file_that_is_not_a_known_kind_is_refused_before_anything_is_sent(
    live: LiveStack, tmp_path: Path
) -> None:
    tenant = live.tenant("cli-refuse")
    (tmp_path / "a.txt").write_text("hello")
    refused = run_cli(
        live, tenant, "ingest", str(tmp_path / "a.txt"), "--schema", SCHEMA, "--out",
        str(tmp_path / "results.json"),
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: --out {tmp_path / 'results.json'}: write .jsonl, .ndjson, .csv or .xlsx "
        "(not .json)"
    )
    with live.session() as session:
        assert not session.scalar(
            select(func.count()).select_from(Batch).where(Batch.tenant_id == uuid.UUID(tenant.id))
        )
