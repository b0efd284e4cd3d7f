"""Long and hostile PDFs through the real API, workers and simulator.

The stack lowers every model's chunk size, so a 200-page report must be chunked without
sending hundreds of thousands of tokens through the simulator. (The corrupt-PDF case is
in test_pipeline_e2e.py.)
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from sqlalchemy import select

from schemas.config import load_config
from schemas.extraction.registry import get_schema
from storage.models import LlmCall
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_job

pytestmark = pytest.mark.e2e

CHUNK_TOKENS = 20_000
MODELS = ("gpt-5.6-luna", "gpt-5.6-terra", "claude-haiku-5-5", "claude-sonnet-5-5")
PROSE = (
    "the board reviewed the quarterly budget for the Lisbon office and agreed that Maria "
    "Santos will lead the migration of billing records to the new ledger system before "
    "the audit by Deloitte in March while Globex keeps the support contract"
)
WORDS = PROSE.split()


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """A stack whose models all chunk at CHUNK_TOKENS."""
    overrides: dict[str, Any] = {"models": {m: {"chunk_tokens": CHUNK_TOKENS} for m in MODELS}}
    live = stack_factory(name="longdocs", overrides=overrides)
    yield live
    live.close()


def make_pdf(*, pages: int, lines: int, user_password: str | None = None) -> bytes:
    """A text PDF of `pages` pages with `lines` lines of prose each (encrypted if asked)."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=1, encrypt=user_password)
    for page in range(1, pages + 1):
        y = 800.0
        pdf.drawString(72, y, f"Annual operations report, page {page} of {pages}")
        for line in range(lines):
            y -= 14
            k = page * lines + line
            words = " ".join(WORDS[(k * 7 + i) % len(WORDS)] for i in range(14))
            pdf.drawString(72, y, f"{page}.{line} {words}.")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def submit_pdf(
    live: LiveStack, content: bytes, filename: str, schema: str = "document_summary"
) -> dict[str, Any]:
    """Upload a PDF for extraction (a document summary by default) and wait for the job."""
    with live.client() as client:
        client.timeout = 120.0  # the API parses the PDF inside the request
        created = client.post(
            "/v1/jobs",
            json={
                "schema": schema,
                "content_base64": base64.b64encode(content).decode(),
                "filename": filename,
            },
        )
        assert created.status_code == 202, created.text
        return wait_job(client, created.json()["id"], timeout=240)


def test_200_page_pdf_is_chunked_merged_and_summarised_with_a_reduce_call(
    stack: LiveStack,
) -> None:
    job = submit_pdf(stack, make_pdf(pages=200, lines=25), "annual-report.pdf")
    assert job["status"] == "succeeded", job
    assert job["chunks"] > 1
    config = load_config(Path(stack.env["DOCQUEUE_CONFIG"]))
    assert job["model"] in config.tiers[job["tier"]].models
    get_schema("document_summary").model.model_validate(job["result"])
    assert job["result"]["summary"]
    with stack.session() as session:
        rows = session.execute(
            select(LlmCall.chunk, LlmCall.outcome, LlmCall.seq)
            .where(LlmCall.job_id == job["id"])
            .order_by(LlmCall.seq)
        ).all()
    ok = [(chunk, seq) for chunk, outcome, seq in rows if outcome == "ok"]
    chunk_rows = [(chunk, seq) for chunk, seq in ok if chunk is not None]
    reduce_rows = [seq for chunk, seq in ok if chunk is None]
    # one successful call per chunk, in order, then the summary's reduce call
    assert [chunk for chunk, _ in chunk_rows] == list(range(job["chunks"]))
    assert len(reduce_rows) == 1
    assert reduce_rows[0] > max(seq for _, seq in chunk_rows)


def test_encrypted_pdf_ends_document_invalid_without_calling_a_model(stack: LiveStack) -> None:
    locked = make_pdf(pages=2, lines=5, user_password="locked")  # noqa: S106 - a test fixture
    job = submit_pdf(stack, locked, "locked.pdf")
    assert job["status"] == "failed"
    assert job["error"]["type"] == "document_invalid"
    assert "encrypted" in job["error"]["message"]
    with stack.session() as session:
        assert session.scalars(select(LlmCall.id).where(LlmCall.job_id == job["id"])).all() == []


def test_300_page_pdf_is_not_refused_for_its_size(stack: LiveStack) -> None:
    job = submit_pdf(stack, make_pdf(pages=300, lines=1), "brochure.pdf")
    assert job["status"] == "succeeded", job
    assert job["error"] is None


REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 120},
        "people": {"type": "array", "items": {"type": "string", "maxLength": 40}},
        "places": {"type": "array", "items": {"type": "string", "maxLength": 40}},
        "overview": {"type": "string", "x-docqueue-merge": "summary"},
    },
    "required": ["title", "people", "places", "overview"],
    "additionalProperties": False,
}


def test_a_150_page_pdf_with_a_tenant_schema_is_chunked_and_its_lists_merged_without_duplicates(
    stack: LiveStack,
) -> None:
    with stack.client() as client:
        body = {
            "name": "ops_report",
            "description": "Operations reports",
            "json_schema": REPORT_SCHEMA,
        }
        assert client.post("/v1/extractors", json=body).status_code in (200, 201)
    # 150 pages of 8 lines: about 20k words, so more than one chunk at CHUNK_TOKENS
    job = submit_pdf(stack, make_pdf(pages=150, lines=8), "ops-report.pdf", schema="ops_report")
    assert job["status"] == "succeeded", job
    assert job["chunks"] > 1
    result = job["result"]
    Draft202012Validator(REPORT_SCHEMA).validate(result)
    for field in ("people", "places"):
        values = [" ".join(v.split()).casefold() for v in result[field]]
        assert values, field
        assert len(values) == len(set(values)), (field, values)
    with stack.session() as session:
        reduces = session.scalars(
            select(LlmCall.id).where(
                LlmCall.job_id == job["id"], LlmCall.chunk.is_(None), LlmCall.outcome == "ok"
            )
        ).all()
    assert len(reduces) == 1  # the `x-docqueue-merge: summary` field was reduced by a call
