"""Base class for extraction models, the merge marker for summary fields, and shared types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.fields import FieldInfo

__all__ = [
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


_LANGUAGE = re.compile(r"[a-z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _check_language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError(
            f'language must be an ISO 639-1 code of two letters (e.g. "en"), got {value!r}'
        )
    return value


def _check_currency(value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise ValueError(
            f'currency must be an ISO 4217 code of three letters (e.g. "USD"), got {value!r}'
        )
    return value


LanguageCode = Annotated[
    str,
    BeforeValidator(lambda v: _casefold_input(v, upper=False)),
    AfterValidator(_check_language),
    Field(description='ISO 639-1 language code, two lowercase letters, e.g. "en", "de".'),
]

CurrencyCode = Annotated[
    str,
    BeforeValidator(lambda v: _casefold_input(v, upper=True)),
    AfterValidator(_check_currency),
    Field(description='ISO 4217 currency code, three uppercase letters, e.g. "USD", "EUR".'),
]
