"""Built-in schemas tell the provider what their validators check, in the accepted subset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from instructor.v2.providers.anthropic.schema import generate_anthropic_schema
from instructor.v2.providers.openai.schema import generate_openai_schema
from pydantic import BaseModel, ValidationError

from schemas.extraction import Contract, DocumentSummary, Invoice, Resume, list_schemas
from schemas.extraction.base import CURRENCY_PATTERN, LANGUAGE_PATTERN
from schemas.extractors.validation import answer_validator, violations
from tasks.engine.llm import instructor_model
from tests.unit.engine.extraction_samples import (
    contract_data,
    invoice_data,
    resume_data,
    summary_data,
)

# The JSON Schema subset tenants may use; the built-ins hold themselves to it too.
SUBSET = {
    "type", "properties", "required", "$defs", "$ref", "anyOf", "enum", "const",
    "description", "title", "default", "pattern", "format", "minLength", "maxLength",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "items", "minItems", "maxItems",
}  # fmt: skip
FORMATS = {"date", "date-time", "email", "uri", "uuid"}


def keywords(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every (keyword, value) of a schema and its subschemas (names and data are skipped)."""
    for keyword, value in node.items():
        yield keyword, value
        if keyword in ("properties", "$defs"):
            for child in value.values():
                yield from keywords(child)
        elif keyword == "items":
            yield from keywords(value)
        elif keyword == "anyOf":
            for branch in value:
                yield from keywords(branch)


@pytest.mark.parametrize("spec", list_schemas(), ids=lambda spec: spec.name)
def test_every_builtin_schema_stays_inside_the_accepted_subset(spec: Any) -> None:
    used = list(keywords(spec.model.model_json_schema()))
    assert {keyword for keyword, _ in used} <= SUBSET
    assert {value for keyword, value in used if keyword == "format"} <= FORMATS


def sent_property(
    generate: Callable[[type[BaseModel]], dict[str, Any]], model: type[BaseModel], name: str
) -> Any:
    """A top-level property of the tool schema instructor sends for `model`."""
    tool = generate(instructor_model(model))
    sent = tool["parameters"] if "parameters" in tool else tool["input_schema"]
    return sent["properties"][name]


@pytest.mark.parametrize("generate", [generate_openai_schema, generate_anthropic_schema])
def test_the_builtin_document_summary_schema_sent_to_the_provider_carries_pattern_for_language(
    generate: Callable[[type[BaseModel]], dict[str, Any]],
) -> None:
    language = sent_property(generate, DocumentSummary, "language")
    assert language["pattern"] == LANGUAGE_PATTERN == "^[a-z]{2}$"
    assert language["type"] == "string"


@pytest.mark.parametrize("generate", [generate_openai_schema, generate_anthropic_schema])
def test_the_builtin_invoice_schema_sent_to_the_provider_carries_pattern_for_currency(
    generate: Callable[[type[BaseModel]], dict[str, Any]],
) -> None:
    assert (
        sent_property(generate, Invoice, "currency")["pattern"] == CURRENCY_PATTERN == "^[A-Z]{3}$"
    )


SAMPLES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (DocumentSummary, summary_data()),
    (Invoice, invoice_data()),
    (Contract, contract_data()),
    (Resume, resume_data()),
]


@pytest.mark.parametrize(("model", "data"), SAMPLES, ids=lambda v: getattr(v, "__name__", ""))
def test_a_valid_builtin_answer_also_satisfies_its_json_schema(
    model: type[BaseModel], data: dict[str, Any]
) -> None:
    answer = model.model_validate(data).model_dump(mode="json")
    assert violations(answer_validator(model.model_json_schema()), answer) == []


def invoice_line(field: str, value: Any) -> dict[str, Any]:
    """A sample invoice whose first line item has `field` set to `value`."""
    data = invoice_data()
    data["line_items"][0][field] = value
    return data


def education(year: int) -> dict[str, Any]:
    """A sample resume whose education graduated in `year`."""
    return resume_data(education=[{"institution": "MIT", "graduation_year": year}])


# Constraints on single fields: the model rejects each of these, and so must its schema.
BROKEN: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (DocumentSummary, summary_data(language="eng"), "/language"),
    (DocumentSummary, summary_data(language="e1"), "/language"),
    (
        DocumentSummary,
        summary_data(entities=[{"name": "Ada", "type": "human"}]),
        "/entities/0/type",
    ),
    (Invoice, invoice_data(currency="EURO"), "/currency"),
    (Invoice, invoice_data(currency="US$"), "/currency"),
    (Invoice, invoice_data(tax=-1.0, total=99.0), "/tax"),
    (Invoice, invoice_line("quantity", 0), "/line_items/0/quantity"),
    (Invoice, invoice_line("unit_price", -0.01), "/line_items/0/unit_price"),
    (Invoice, invoice_data(issue_date="2026-02-30"), "/issue_date"),
    (Contract, contract_data(parties=[{"name": "Acme Corp", "role": "supplier"}]), "/parties"),
    (Resume, education(1899), "/education/0/graduation_year"),
    (Resume, education(2101), "/education/0/graduation_year"),
]


@pytest.mark.parametrize(("model", "data", "where"), BROKEN)
def test_a_field_constraint_the_model_enforces_is_also_in_its_json_schema(
    model: type[BaseModel], data: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)
    found = violations(answer_validator(model.model_json_schema()), data)
    assert [line for line in found if line.startswith(f"{where}: ")], found


@pytest.mark.parametrize(
    ("model", "data", "needle"),
    [
        (DocumentSummary, summary_data(language="English"), "ISO 639-1"),
        (Invoice, invoice_data(currency="dollars"), "ISO 4217"),
    ],
)
def test_a_code_that_breaks_its_pattern_is_explained_in_words(
    model: type[BaseModel], data: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ValidationError, match=needle):
        model.model_validate(data)


def test_codes_are_still_case_folded_before_the_pattern_is_checked() -> None:
    assert DocumentSummary.model_validate(summary_data(language=" DE ")).language == "de"
    assert Invoice.model_validate(invoice_data(currency="usd")).currency == "USD"
