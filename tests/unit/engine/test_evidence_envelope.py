"""The evidence envelope: quotes re-pointed after a merge, fit verdicts combined, the prompt
note, and the envelope model's schema and lenient parsing."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel

from schemas.extraction.invoice import Invoice
from schemas.extractors.build import stored_spec
from schemas.trust.envelope import (
    MAX_PATH,
    MAX_QUOTE,
    MAX_QUOTES,
    MAX_REASON,
    DocumentFit,
    answer_model,
    evidence_note,
)
from tasks.engine.evidence import combine_fit, remap_quotes, with_evidence_note
from tests.unit.engine.extraction_samples import invoice_data

A = {"sku": "A-1", "qty": 1}
B = {"sku": "B-2", "qty": 2}
C = {"sku": "C-3", "qty": 3}


def test_a_list_item_quote_points_at_the_same_item_in_the_merged_result() -> None:
    quotes = [("/items/0/sku", "A-1"), ("/items/1/qty", "2 pcs")]
    out = remap_quotes(
        chunk_data={"items": [A, B]},
        merged={"items": [C, B, A]},
        quotes=quotes,
        list_fields=("items",),
    )
    assert out == [("/items/2/sku", "A-1"), ("/items/1/qty", "2 pcs")]


def test_a_quote_of_an_item_the_merge_dropped_goes() -> None:
    out = remap_quotes(
        chunk_data={"items": [A, B]},
        merged={"items": [B]},
        quotes=[("/items/0/sku", "A-1"), ("/items/1/sku", "B-2"), ("/items/5/sku", "no such")],
        list_fields=("items",),
    )
    assert out == [("/items/0/sku", "B-2")]


def test_quotes_outside_list_items_are_kept_as_given() -> None:
    quotes = [("/vendor/name", "Acme"), ("/items", "the items"), ("/notes/0", "see page 2")]
    out = remap_quotes(
        chunk_data={"items": [A], "notes": ["x"]},
        merged={"items": [C, A], "notes": ["y", "x"]},
        quotes=quotes,
        list_fields=("items",),  # /notes is not a list field the merge concatenates
    )
    assert out == quotes


def test_escaped_pointer_segments_are_read_and_written_back_escaped() -> None:
    out = remap_quotes(
        chunk_data={"line/items": [A], "a~b": [B]},
        merged={"line/items": [C, A], "a~b": [C, C, B]},
        quotes=[("/line~1items/0/unit~1price", "9.99"), ("/a~0b/0/sku", "B-2")],
        list_fields=("line/items", "a~b"),
    )
    assert out == [("/line~1items/1/unit~1price", "9.99"), ("/a~0b/2/sku", "B-2")]


def test_thousands_of_line_quotes_remap_in_well_under_a_second() -> None:
    rows = [{"n": i, "desc": f"item {i}", "qty": i % 7, "amount": i * 1.5} for i in range(3000)]
    merged = [{"n": -i, "desc": "earlier chunk"} for i in range(1, 501)] + rows[::-1]
    quotes = [(f"/lines/{i}/{key}", f"q{i}") for i in range(3000) for key in rows[i]]
    started = time.perf_counter()
    out = remap_quotes(
        chunk_data={"lines": rows}, merged={"lines": merged}, quotes=quotes, list_fields=("lines",)
    )
    elapsed = time.perf_counter() - started
    assert len(out) == 12_000
    assert out[0] == ("/lines/3499/n", "q0")
    assert out[-1] == ("/lines/500/amount", "q2999")
    assert elapsed < 2.0, f"{elapsed:.2f}s for 12,000 quotes"


def test_a_document_is_a_mismatch_only_when_every_chunk_says_so() -> None:
    licence = DocumentFit(fits=False, reason="a driving licence")
    appendix = DocumentFit(fits=False, reason="a table of figures")
    invoice = DocumentFit(fits=True, reason="an invoice")
    assert combine_fit([licence, appendix]).fits is False
    assert combine_fit([licence, appendix]).reason == "a driving licence"
    assert combine_fit([appendix, invoice, licence]) == invoice


def test_no_chunk_verdicts_means_the_document_fits() -> None:
    assert combine_fit([]).fits is True


def test_the_evidence_note_is_appended_to_the_system_message_without_touching_the_input() -> None:
    messages = [
        {"role": "system", "content": "You extract invoices."},
        {"role": "user", "content": "INVOICE 7"},
    ]
    before = copy.deepcopy(messages)
    out = with_evidence_note(messages)
    assert messages == before
    assert out[0] == {"role": "system", "content": f"You extract invoices.\n\n{evidence_note()}"}
    assert out[1] == messages[1]
    assert "Independent sample" not in out[0]["content"]


def test_the_second_sample_says_it_is_independent_sample_two() -> None:
    out = with_evidence_note([{"role": "system", "content": "S"}], sample=2)
    assert out[0]["content"] == f"S\n\n{evidence_note()} Independent sample 2."


def test_a_request_without_a_system_message_gets_one_holding_the_note() -> None:
    messages = [{"role": "user", "content": "INVOICE 7"}]
    out = with_evidence_note(messages, sample=2)
    assert out == [
        {"role": "system", "content": f"{evidence_note()} Independent sample 2."},
        {"role": "user", "content": "INVOICE 7"},
    ]
    assert messages == [{"role": "user", "content": "INVOICE 7"}]


# A tenant schema whose $defs include names the envelope itself uses.
TENANT: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Party": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
        "Quote": {"type": "string", "maxLength": 20},
    },
    "properties": {"buyer": {"$ref": "#/$defs/Party"}, "motto": {"$ref": "#/$defs/Quote"}},
    "required": ["buyer"],
}


def _tenant_model() -> type[BaseModel]:
    spec = stored_spec(
        name="orders", version=1, owner="t1", description="Orders.", schema=TENANT,
        instructions=None,
    )  # fmt: skip
    return spec.model


def test_the_envelope_schema_holds_the_tenant_schema_as_data_with_its_defs_at_the_root() -> None:
    model = _tenant_model()
    inner = model.model_json_schema()
    schema = answer_model(model).model_json_schema()
    data = dict(schema["properties"]["data"])
    assert data.pop("description")  # the slot's own description replaces the tenant's
    assert data == {k: v for k, v in inner.items() if k not in ("$defs", "description")}
    assert schema["$defs"]["Party"] == TENANT["$defs"]["Party"]
    assert schema["$defs"]["Quote"] == TENANT["$defs"]["Quote"]  # the tenant's, not ours
    assert {"docqueue_DocumentFit", "docqueue_Quote"} <= set(schema["$defs"])
    assert "DocumentFit" not in schema["$defs"]
    assert schema["required"] == ["document_fit", "data", "evidence"]
    assert list(schema["properties"]) == ["document_fit", "data", "evidence"]


def test_a_sample_answer_validates_against_the_envelope_schema_through_its_refs() -> None:
    validator = Draft202012Validator(answer_model(_tenant_model()).model_json_schema())
    Draft202012Validator.check_schema(validator.schema)
    good = {
        "document_fit": {"fits": True, "reason": "an order form"},
        "data": {"buyer": {"name": "Beta LLC"}, "motto": "fast"},
        "evidence": [{"path": "/buyer/name", "quote": "Beta LLC"}],
    }
    assert list(validator.iter_errors(good)) == []
    bad_party = {**good, "data": {"buyer": {}}}
    bad_motto = {**good, "data": {"buyer": {"name": "B"}, "motto": "x" * 21}}
    bad_quote = {**good, "evidence": [{"path": "no-slash", "quote": "B"}]}
    for answer in (bad_party, bad_motto, bad_quote):
        assert list(validator.iter_errors(answer)), answer


def test_an_answer_without_a_document_fit_is_taken_to_fit() -> None:
    for fit in ({}, {"document_fit": None}, {"document_fit": "yes"}):
        parsed: Any = answer_model(Invoice).model_validate(
            {**fit, "data": invoice_data(), "evidence": []}
        )
        assert parsed.document_fit == DocumentFit(fits=True, reason="")


def test_quotes_that_are_not_objects_are_dropped_and_long_ones_are_cut() -> None:
    evidence = [
        "INV-7",
        7,
        None,
        {"path": "/" + "p" * 2 * MAX_PATH, "quote": "q" * 2 * MAX_QUOTE},
        {"path": "/total", "quote": "119.00"},
    ]
    fit = {"fits": False, "reason": "r" * 2 * MAX_REASON}
    parsed: Any = answer_model(Invoice).model_validate(
        {"document_fit": fit, "data": invoice_data(), "evidence": evidence}
    )
    assert [(len(q.path), len(q.quote)) for q in parsed.evidence] == [(MAX_PATH, MAX_QUOTE), (6, 6)]
    assert parsed.evidence[1].path == "/total"
    assert parsed.document_fit.fits is False
    assert parsed.document_fit.reason == "r" * MAX_REASON


def test_evidence_past_the_cap_is_cut_rather_than_refused() -> None:
    evidence = [{"path": f"/line_items/{i}/amount", "quote": str(i)} for i in range(MAX_QUOTES + 5)]
    parsed: Any = answer_model(Invoice).model_validate(
        {"data": invoice_data(), "evidence": evidence}
    )
    assert len(parsed.evidence) == MAX_QUOTES
    assert parsed.evidence[-1].quote == str(MAX_QUOTES - 1)


def test_strict_json_validation_still_reads_iso_dates_inside_data() -> None:
    # instructor validates tool answers as strict JSON; a model-level `before` validator on
    # the envelope once turned the JSON into a dict first, and strict mode then refused dates.
    answer = {
        "document_fit": {"fits": True, "reason": "an invoice"},
        "data": invoice_data(),
        "evidence": [{"path": "/issue_date", "quote": "10 January 2026"}],
    }
    parsed: Any = answer_model(Invoice).model_validate_json(json.dumps(answer), strict=True)
    assert parsed.data.issue_date.isoformat() == "2026-01-10"
    assert parsed.data.due_date.isoformat() == "2026-02-10"
    assert parsed.data.model_dump(mode="json") == Invoice.model_validate(invoice_data()).model_dump(
        mode="json"
    )
