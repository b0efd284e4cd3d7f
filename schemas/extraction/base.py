"""Base class for extraction models, the merge marker for summary fields, and shared types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.fields import FieldInfo

__all__ = [
    "CURRENCY_PATTERN",
    "LANGUAGE_PATTERN",
    "SUMMARY",
    "CurrencyCode",
    "ExtractionModel",
    "LanguageCode",
    "MergeHint",
    "SummaryText",
    "is_summary",
]


class ExtractionModel(BaseModel):
    """Base for every model an LLM fills in."""

    # LLMs volunteer extra keys ("confidence", "notes"); dropping them beats a re-ask.
    # Stray whitespace around strings is noise from tokenisation, never meaning.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


@dataclass(frozen=True)
class MergeHint:
    """Tells the chunk-merge step how to combine a field's per-chunk values."""

    kind: Literal["summary"]


# Kept in the field's Annotated metadata rather than json_schema_extra, so the marker
# never reaches the JSON Schema sent to providers (strict modes reject unknown keywords).
SUMMARY = MergeHint("summary")

# Free text summarising the whole document: per-chunk values need an LLM reduce call
# rather than "first non-empty value".
SummaryText = Annotated[str, SUMMARY]


def is_summary(field: FieldInfo) -> bool:
    """Whether a model field carries the summary merge marker."""
    return any(isinstance(m, MergeHint) and m.kind == "summary" for m in field.metadata)


def _casefold_input(value: Any, *, upper: bool) -> Any:
    # Only case is normalised: "EUR"/"eur" mean the same, anything else is a real error.
    if isinstance(value, str):
        value = value.strip()
        return value.upper() if upper else value.lower()
    return value


def _explained(requirement: str) -> WrapValidator:
    # Pydantic's own "String should match pattern" says what failed, not what is wanted;
    # the re-ask works better with the requirement in words.
    def explain(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(f"{requirement}, got {value!r}") from None

    return WrapValidator(explain)


# Each pattern sits directly on `str`, before the validators: there pydantic both checks it
# and emits it into the JSON Schema, so providers see the rule the answer is held to
# (placed after a BeforeValidator it is checked but silently left out of the schema).
LANGUAGE_PATTERN = "^[a-z]{2}$"
CURRENCY_PATTERN = "^[A-Z]{3}$"

LanguageCode = Annotated[
    str,
    Field(pattern=LANGUAGE_PATTERN),
    BeforeValidator(lambda v: _casefold_input(v, upper=False)),  # "EN" is not worth a re-ask
    _explained('language must be an ISO 639-1 code of two letters (e.g. "en")'),
    Field(description='ISO 639-1 language code, two lowercase letters, e.g. "en", "de".'),
]

CurrencyCode = Annotated[
    str,
    Field(pattern=CURRENCY_PATTERN),
    BeforeValidator(lambda v: _casefold_input(v, upper=True)),
    _explained('currency must be an ISO 4217 code of three letters (e.g. "USD")'),
    Field(description='ISO 4217 currency code, three uppercase letters, e.g. "USD", "EUR".'),
]
