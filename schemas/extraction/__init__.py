"""Extraction schemas, their prompts and the registry the API and workers look them up in."""

from schemas.extraction.base import (
    SUMMARY,
    CurrencyCode,
    ExtractionModel,
    LanguageCode,
    MergeHint,
    SummaryText,
    is_summary,
)
from schemas.extraction.contract import Contract, ContractParty, Obligation
from schemas.extraction.document_summary import DocumentSummary, Entity, EntityType
from schemas.extraction.invoice import Invoice, LineItem, Party
from schemas.extraction.prompts import PROMPT_VERSION, PromptTemplate, neutralise_document
from schemas.extraction.registry import (
    SchemaShape,
    SchemaSpec,
    get_schema,
    json_schema,
    list_fields,
    list_schemas,
    schema_shape,
    summary_fields,
)
from schemas.extraction.resume import Education, Position, Resume

__all__ = [
    "PROMPT_VERSION",
    "SUMMARY",
    "Contract",
    "ContractParty",
    "CurrencyCode",
    "DocumentSummary",
    "Education",
    "Entity",
    "EntityType",
    "ExtractionModel",
    "Invoice",
    "LanguageCode",
    "LineItem",
    "MergeHint",
    "Obligation",
    "Party",
    "Position",
    "PromptTemplate",
    "Resume",
    "SchemaShape",
    "SchemaSpec",
    "SummaryText",
    "get_schema",
    "is_summary",
    "json_schema",
    "list_fields",
    "list_schemas",
    "neutralise_document",
    "schema_shape",
    "summary_fields",
]
