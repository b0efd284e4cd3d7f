"""Generated answers: they honour the schema keywords, validators and the document."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, model_validator

from scripts.simulator.answers import build_answer, make_invalid
from tests.unit.simulator.harness import DOC, Party


def test_answers_honour_every_schema_keyword() -> None:
    schema: dict[str, Any] = {
        "$defs": {"Kind": {"enum": ["a", "b"], "type": "string"}},
        "type": "object",
        "properties": {
            "kind": {"$ref": "#/$defs/Kind"},
            "maybe": {"anyOf": [{"type": "integer", "minimum": 5, "maximum": 7}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 4, "maxItems": 6},
            "email": {"type": "string", "format": "email"},
            "start_date": {"type": "string", "format": "date"},
            "end_date": {"type": "string", "format": "date"},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "flag": {"type": "boolean"},
        },
        "required": ["kind", "tags"],
    }
    for seed in range(20):
        answer = build_answer(schema, DOC, seed)
        assert answer["kind"] in ("a", "b")
        assert 5 <= answer["maybe"] <= 7
        assert 4 <= len(answer["tags"]) <= 6
        assert all(answer["tags"])
        assert "@" in answer["email"]
        assert answer["start_date"] <= answer["end_date"]
        dt.date.fromisoformat(answer["end_date"])
        assert 0 < answer["ratio"] <= 1
        broken = make_invalid(answer, schema)
        assert "kind" not in broken


class Node(BaseModel):
    """A recursive model."""

    name: str
    children: list[Node] = []


class KitchenSink(BaseModel):
    """Many schema shapes at once: every generated answer must validate."""

    price: decimal.Decimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    zip_code: str = Field(pattern=r"^\d{5}(-\d{4})?$", max_length=10)
    color: Literal["red", "blue"] | None
    when: dt.datetime
    uid: uuid.UUID
    tags: set[str]
    pair: tuple[int, str]
    counts: dict[str, int]
    tree: Node
    negative: int = Field(lt=0)
    fraction: float = Field(gt=0, lt=1)
    step: int = Field(multiple_of=5, ge=10, le=100)
    words: list[str] = Field(min_length=5, max_length=7)


def test_answers_validate_for_many_schema_shapes() -> None:
    schema = KitchenSink.model_json_schema()
    for seed in range(50):
        answer = build_answer(schema, DOC, seed)
        KitchenSink.model_validate(answer)
        with pytest.raises(ValueError, match="validation error"):
            KitchenSink.model_validate(make_invalid(answer, schema))


class Obligation(BaseModel):
    """Who must do what: `party` must name one of the agreement's parties."""

    party: str
    description: str


class Agreement(BaseModel):
    """References between lists and ISO codes, checked by validators, not by the schema."""

    parties: list[Party] = Field(min_length=1)
    obligations: list[Obligation]
    currency: str = Field(description="ISO 4217 currency code, e.g. USD")
    language: str | None = Field(default=None, description="ISO 639-1 language code")

    @model_validator(mode="after")
    def links_and_codes(self) -> Agreement:
        """Obligations name known parties; codes have their ISO shapes."""
        names = {p.name for p in self.parties}
        if any(o.party not in names for o in self.obligations):
            raise ValueError("obligation names an unknown party")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError("currency is not an ISO 4217 code")
        if self.language is not None and len(self.language) != 2:
            raise ValueError("language is not an ISO 639-1 code")
        return self


def test_answers_satisfy_reference_and_code_rules() -> None:
    schema = Agreement.model_json_schema()
    for seed in range(30):
        answer = build_answer(schema, DOC + " Amounts in EUR.", seed)
        agreement = Agreement.model_validate(answer)
        assert agreement.currency == "EUR"  # taken from the document when it names one
        assert agreement.language == "en"
