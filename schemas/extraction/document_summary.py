"""DocumentSummary: title, summary, key points, named entities and language of any document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from schemas.extraction.base import ExtractionModel, LanguageCode, SummaryText

EntityType = Literal["person", "organization", "location", "date", "money", "product", "other"]


class Entity(ExtractionModel):
    """A named entity mentioned in the document."""

    name: str = Field(description="The entity as written in the document.")
    type: EntityType = Field(description="The kind of entity.")

    @field_validator("type", mode="before")
    @classmethod
    def _lowercase_type(cls, value: Any) -> Any:
        # "Person" and "person" are the same answer; don't spend a re-ask on case.
        return value.strip().lower() if isinstance(value, str) else value


class DocumentSummary(ExtractionModel):
    """A general-purpose summary of a document."""

    title: str = Field(
        description="The document's own title, or a short descriptive title if it has none."
    )
    summary: SummaryText = Field(
        description="A faithful summary of the whole document in a few sentences."
    )
    key_points: list[str] = Field(
        default_factory=list,
        description="The most important points, one short sentence each.",
    )
    entities: list[Entity] = Field(
        default_factory=list,
        description="People, organizations, places, dates, amounts and products named.",
    )
    language: LanguageCode
