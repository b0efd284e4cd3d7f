"""Intake of single jobs and batch documents: one preparation, the same storable result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from api.intake.batch import BatchRouter
from api.intake.document import DocumentRouter, decode
from schemas.batch_api import BatchCreate, BatchDocument, BatchHeader
from schemas.config import DEFAULT_CONFIG, AppConfig, load_config
from schemas.extraction.registry import get_schema
from schemas.extractors.build import builtin_spec
from schemas.extractors.spec import ExtractorSpec


def _builtin(name: str) -> ExtractorSpec:
    return builtin_spec(get_schema(name))


@pytest.fixture(scope="module")
def config() -> AppConfig:
    """The shipped configuration."""
    return load_config(DEFAULT_CONFIG)


def test_a_lone_surrogate_in_a_batch_documents_text_is_dropped_not_a_crash(
    config: AppConfig,
) -> None:
    header = BatchHeader(schema_name="document_summary", tier="low")
    router = BatchRouter(header=header, spec=_builtin(header.schema_name), config=config)
    prep = router.prepare(BatchDocument(text="Memo \ud800 of the audit.", filename="m.txt"))
    assert prep.invalid is None
    assert prep.text is not None
    assert "\ud800" not in prep.text
    assert prep.text.startswith("Memo ")
    assert prep.text.endswith(" of the audit.")
    prep.text.encode()  # storable: Postgres text takes only valid UTF-8


@pytest.mark.parametrize("tier", ["auto", "low", "high"])
@pytest.mark.parametrize(
    "doc",
    [
        {"text": "Invoice 7 from ACME: 3 widgets, 42.00 EUR due 2026-05-01.", "filename": "i.txt"},
        {"content_base64": "SGVsbG8sIHdvcmxkLg==", "filename": "hello.txt"},
        {"content_base64": "JVBERi0xLjQKbm90IGEgcGRm", "filename": "broken.pdf"},
    ],
    ids=["text", "base64-text", "unreadable-pdf"],
)
def test_a_batch_document_is_prepared_exactly_as_the_same_single_job(
    config: AppConfig, tier: str, doc: dict[str, str]
) -> None:
    header = BatchHeader.model_validate({"schema": "invoice", "tier": tier})
    batched = BatchRouter(header=header, spec=_builtin(header.schema_name), config=config).prepare(
        BatchDocument.model_validate(doc)
    )
    source = decode(
        text=doc.get("text"),
        content_base64=doc.get("content_base64"),
        max_bytes=config.limits.max_document_bytes,
    )
    single = DocumentRouter(spec=_builtin("invoice"), tier=header.tier, config=config).prepare(
        source=source, filename=doc["filename"]
    )
    # exceptions compare by identity: the unreadable document's error is compared as text
    assert replace(batched, invalid=None) == replace(single, invalid=None)
    assert str(batched.invalid) == str(single.invalid)
    assert (batched.invalid is None) == (doc["filename"] != "broken.pdf")


@pytest.mark.parametrize(
    "extra",
    [
        {"filename": "evil\x00name.txt"},
        {"key": "nul\x00key"},
        {"metadata": {"ref": "nul\x00byte"}},
        {"metadata": {"nul\x00key": 1}},
        {"metadata": {"deep": [{"half": "\udfff"}]}},
    ],
    ids=["nul-filename", "nul-key", "nul-metadata-value", "nul-metadata-key", "surrogate"],
)
def test_a_batch_document_that_postgres_cannot_store_fails_validation(
    extra: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError, match="NUL characters or lone surrogates"):
        BatchDocument.model_validate({"text": "A memo.", **extra})


@pytest.mark.parametrize(
    "extra",
    [{"schema": "document\x00summary"}, {"webhook_url": "https://example.com/\x00"}],
    ids=["nul-schema", "nul-webhook-url"],
)
def test_a_batch_header_that_postgres_cannot_store_fails_validation(
    extra: dict[str, Any],
) -> None:
    body = {"schema": "document_summary", "documents": [{"text": "A memo."}], **extra}
    with pytest.raises(ValidationError, match="NUL characters or lone surrogates"):
        BatchCreate.model_validate(body)
