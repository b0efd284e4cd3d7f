"""Every schema docqueue's door check accepts gets answers that validate, keyword by keyword."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError, validators

from schemas.errors import SchemaInvalid
from schemas.extractors.check import check_schema
from schemas.extractors.limits import ExtractorLimits
from schemas.extractors.patterns import search as re2_search
from scripts.simulator.answers import build_answer, document_words, make_invalid
from tests.unit.simulator.harness import DOC
from tests.unit.simulator.schema_cases import CASES as SHAPES
from tests.unit.simulator.schema_cases import RE2_ONLY, closed, text

DOCUMENTS = (
    DOC,
    "",  # no words at all: the fallback pool
    "Grüße aus Köln: Rechnung Nr. 2291 über 1.234,56 EUR an die Müller-Lüdenscheidt GmbH.",
    "state-of-the-art well-known x-ray re-entry co-operation " * 3,
    "12345 67890 0042",
    "Contract between Initech LLC and Hooli Inc. Payment of 12000 USD due 2024-03-01. " * 40,
)
SEEDS = range(6)
# What docqueue asks a model when it infers an extractor from sample documents.
SCHEMA_INFERENCE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "fields": {
            "type": "array",
            "minItems": 1,
            "maxItems": 30,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
                    "type": {
                        "enum": ["string", "number", "integer", "boolean", "date", "string_list"]
                    },
                    "description": {"type": "string", "maxLength": 200},
                    "required": {"type": "boolean"},
                },
                "required": ["name", "type", "description", "required"],
            },
        },
    },
    "required": ["title", "fields"],
}
# Validator rules (sums) that the schema's own bounds and types must overrule.
INVOICE_RULES = closed(
    {
        "line_items": {
            "type": "array",
            "minItems": 1,
            "items": closed(
                {
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 9},
                    "unit_price": {"type": "number", "minimum": 0, "maximum": 3},
                    "amount": {"type": "number", "maximum": 5},
                }
            ),
        },
        "subtotal": text(),
        "tax": {"type": "number", "minimum": 0, "maximum": 0.01},
        "total": {"type": "number", "multipleOf": 0.5},
    }
)
CASES = {**SHAPES, "schema_inference": SCHEMA_INFERENCE, "invoice_rules_vs_schema": INVOICE_RULES}


def _re2_pattern(validator: Any, pattern: str, instance: Any, _: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not re2_search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r} under RE2")


# Patterns as docqueue runs them (RE2); the stock validator runs them with Python's `re`.
Re2Validator = validators.extend(Draft202012Validator, {"pattern": _re2_pattern})


def _validators(name: str, schema: dict[str, Any]) -> list[Any]:
    checker = Draft202012Validator.FORMAT_CHECKER
    Draft202012Validator.check_schema(schema, format_checker=None)  # RE2 patterns: not `re`
    found = [Re2Validator(schema, format_checker=checker)]
    if name not in RE2_ONLY:  # Python's `re` cannot read \p{..} or [[:alpha:]] as RE2 does
        found.append(Draft202012Validator(schema, format_checker=checker))
    return found


def _errors(checks: list[Any], answer: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for c in checks
        for e in c.iter_errors(answer)
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_answers_validate_against_every_accepted_schema_shape(name: str) -> None:
    schema = CASES[name]
    checks = _validators(name, schema)
    for document in DOCUMENTS:
        for seed in SEEDS:
            answer = build_answer(schema, document, seed)
            assert _errors(checks, answer) == [], (name, seed, document[:20], answer)


@pytest.mark.parametrize("name", sorted(n for n, s in CASES.items() if s.get("required")))
def test_make_invalid_answers_fail_the_schema_they_were_built_for(name: str) -> None:
    schema = CASES[name]
    checks = _validators(name, schema)
    for seed in SEEDS:
        broken = make_invalid(build_answer(schema, DOC, seed), schema)
        assert _errors(checks, broken), (name, seed, broken)


def test_schema_inference_answers_validate_and_name_fields_after_document_words() -> None:
    checks = _validators("schema_inference", SCHEMA_INFERENCE)
    for document in DOCUMENTS:
        pool = {
            part for w in document_words(document) for part in re.split(r"[^a-z0-9]+", w.lower())
        }
        for seed in SEEDS:
            answer = build_answer(SCHEMA_INFERENCE, document, seed)
            assert _errors(checks, answer) == []
            for field in answer["fields"]:
                assert set(field["name"].split("_")) <= pool, (field["name"], document[:20])


def test_free_strings_are_the_documents_words_within_their_lengths() -> None:
    schema = CASES["string_lengths"]
    words = set(document_words(DOC))
    for seed in SEEDS:
        answer = build_answer(schema, DOC, seed)
        assert set(answer["name"].split()) <= words or len(answer["name"]) == 5
        assert set(answer["long"].split()[:-1]) <= words  # only the last word may be cut
        assert answer["empty"] == ""


def test_numbers_hit_multiples_inside_exclusive_bounds() -> None:
    schema = CASES["numbers"]
    seen: set[int] = set()
    for seed in range(30):
        answer = build_answer(schema, DOC, seed)
        assert answer["step"] % 5 == 0
        assert 0 < answer["step"] <= 100
        assert answer["between"] in (8, 9)
        assert round(answer["money"] * 100) == pytest.approx(answer["money"] * 100)
        seen.add(answer["step"])
    assert len(seen) > 3  # drawn across the range, not pinned to one multiple


def test_recursion_ends_through_the_branch_that_does_not_recurse() -> None:
    def depth(node: Any) -> int:
        if not isinstance(node, dict):
            return 0
        return 1 + max(depth(node["left"]), depth(node["right"]))

    for seed in SEEDS:
        answer = build_answer(CASES["recursive_anyof_scalar_exit"], DOC, seed)
        assert 1 <= depth(answer["expr"]) <= 8


def test_rules_fill_totals_only_where_the_schema_lets_them() -> None:
    schema = INVOICE_RULES
    for seed in SEEDS:
        answer = build_answer(schema, DOC, seed)
        for item in answer["line_items"]:
            product = round(item["quantity"] * item["unit_price"], 2)
            assert item["amount"] == product or product > 5  # amount has maximum 5
        assert isinstance(answer["subtotal"], str)  # a string field is never given a sum
        assert answer["total"] % 0.5 == 0


# Shapes the simulator answers although the door refuses them: it answers more than
# docqueue accepts (a provider may be sent a schema from elsewhere), never less.
BEYOND_THE_DOOR = {
    "annotations_and_extensions",  # an unknown x-docqueue key
    "anyof_scalars_and_siblings",  # a branch with no type
    "deep_required_chain",  # 20 levels, past max_depth
    "enums_and_consts",  # an object const
    "required_without_properties",
    "root_is_a_ref",
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_every_schema_shape_is_refused_or_accepted_by_the_door_as_listed(name: str) -> None:
    if name in BEYOND_THE_DOOR:
        with pytest.raises(SchemaInvalid):
            check_schema(SHAPES[name], limits=ExtractorLimits())
    else:
        check_schema(SHAPES[name], limits=ExtractorLimits())
