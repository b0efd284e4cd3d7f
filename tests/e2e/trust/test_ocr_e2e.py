"""Scanned documents end to end: OCR'd by the worker, evidence pointing at pages and offsets.

Real API, scheduler, workers (Tesseract in a child process), Postgres, Redis, simulator.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from storage.models import Document, Job
from tests.e2e.trust.test_confidence_e2e import SCHEMA
from tests.support.scans import repeated_pdf, scanned_pdf
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_job

pytestmark = pytest.mark.e2e

MAX_PAGES = 3
PAGES = [
    "Claim notice 7\nPolicy number: PN-40213\nHolder name: Dana Whitfield\n"
    "Claim date: 2026-03-14\nThe insured reports water damage in the kitchen.",
    "Assessment\nAmount: 1,234.50\nCity: Springfield\nStatus: open\n"
    "Adjuster visit requested for the week after the incident.",
]


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """A stack that OCRs at most MAX_PAGES pages of a scan, and cuts (with a warning) past it."""
    ocr = {"max_pages": MAX_PAGES, "on_limit": "cut", "time_limit_s": 90.0, "dpi": 200}
    live = stack_factory(name="ocr", overrides={"ocr": ocr})
    yield live
    live.close()


def _words(text: str) -> Counter[str]:
    return Counter(w.casefold() for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9.,:-]*", text))


def _submit(stack: LiveStack, schema: str, content: bytes, filename: str) -> str:
    body = {"schema": schema, "tier": "low", "filename": filename}
    body["content_base64"] = base64.b64encode(content).decode()
    with stack.client(timeout=120) as client:
        made = client.post("/v1/jobs", json=body)
        assert made.status_code == 202, made.text
        return str(made.json()["id"])


def _extractor(stack: LiveStack) -> str:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    with stack.client() as client:
        made = client.post(
            "/v1/extractors", json={"name": name, "description": "Claims", "json_schema": SCHEMA}
        )
        assert made.status_code == 201, made.text
    return name


def test_a_scanned_pdf_is_read_by_ocr_and_its_evidence_points_at_pages_and_offsets(
    stack: LiveStack,
) -> None:
    job_id = _submit(stack, _extractor(stack), scanned_pdf(PAGES), "scan.pdf")
    with stack.client() as client:
        job: dict[str, Any] = wait_job(client, job_id, timeout=180)
    assert job["status"] == "succeeded", job["error"]
    assert job["ocr_pages"] == [1, 2]
    with stack.session() as session:
        row = session.get(Job, uuid.UUID(job_id))
        assert row is not None
        document = session.get(Document, row.document_sha256)
        assert document is not None
        text, state = document.text, document.ocr_state
    assert state == "done"
    expected = _words("\n".join(PAGES))
    recovered = sum((expected & _words(text)).values()) / sum(expected.values())
    print(f"\nOCR recovered {recovered:.1%} of the words")
    assert recovered >= 0.95
    fields = {f["path"]: f for f in job["fields"]}
    assert fields["/policy_number"]["page"] == 1
    assert fields["/amount"]["page"] == 2
    assert fields["/city"]["page"] == 2
    for path, needle in (("/policy_number", "PN-40213"), ("/amount", "1,234.50")):
        field = fields[path]
        assert field["support"] in ("verified", "fuzzy")
        assert needle in text[field["start"] : field["end"]]
        assert text.count("\f", 0, field["start"]) + 1 == field["page"]
    assert job["result"]["policy_number"] == "PN-40213"
    assert job["result"]["amount"] == 1234.5


def test_a_2000_page_scan_is_cut_at_the_page_limit_while_the_worker_serves_other_jobs(
    stack: LiveStack,
) -> None:
    page = scanned_pdf(["Amount: 5.00\nCity: Lakeside"], dpi=100)
    huge = _submit(stack, "document_summary", repeated_pdf(page, 2000), "huge-scan.pdf")
    with stack.client() as client:
        others = [
            client.post(
                "/v1/jobs",
                json={"schema": "document_summary", "tier": "low", "text": f"Memo {i}: all fine."},
            ).json()["id"]
            for i in range(5)
        ]
        served = [wait_job(client, job_id, timeout=120) for job_id in others]
        job = wait_job(client, huge, timeout=240)
    assert [s["status"] for s in served] == ["succeeded"] * 5
    assert job["status"] == "succeeded", job["error"]
    assert job["ocr_pages"] == list(range(1, MAX_PAGES + 1))
    assert any("page limit" in w for w in job["warnings"]), job["warnings"]
