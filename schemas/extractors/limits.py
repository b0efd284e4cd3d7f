"""Size limits on tenant JSON Schemas (`[extractors.limits]`), at the providers' documented ones."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TOML_TABLE", "ExtractorLimits"]

TOML_TABLE = "extractors.limits"  # where these fields live in docqueue.toml


class ExtractorLimits(BaseModel):
    """How big a tenant's JSON Schema may be; the defaults are what OpenAI strict mode accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # OpenAI structured outputs: "up to 5000 object properties total, with up to 10 levels
    # of nesting". Anthropic documents no lower limit, so OpenAI's bind both providers.
    max_properties: int = Field(default=5000, gt=0)
    max_depth: int = Field(default=10, gt=0)
    # OpenAI: "up to 1000 enum values across all enum properties".
    max_enum_values: int = Field(default=1000, gt=0)
    # OpenAI: a single enum with more than 250 values may spend at most 15,000 characters.
    large_enum_values: int = Field(default=250, gt=0)
    max_enum_chars_large: int = Field(default=15_000, gt=0)
    # OpenAI: property names, definition names, enum and const values together at most
    # 120,000 characters.
    max_string_chars: int = Field(default=120_000, gt=0)
    # No provider documents a byte limit. The schema rides along with every LLM call as
    # prompt tokens, so 256 KiB (~64k tokens) is already most of a small model's context;
    # it still fits a schema at the property limit with a short description on each.
    max_schema_bytes: int = Field(default=256 * 1024, gt=0)
    # Containers (objects and arrays) nested in the raw JSON. jsonschema validates
    # recursively, about 7 Python frames per level: 64 keeps it far from the interpreter's
    # recursion limit, while 10 object levels wrapped in anyOf and items need about 50.
    max_json_nesting: int = Field(default=64, gt=0)
    # No provider documents a pattern limit. RE2 compiles in time and memory linear in the
    # pattern; 1000 characters is far beyond any field pattern (ISO codes, IBANs, dates).
    max_pattern_chars: int = Field(default=1000, gt=0)
    # Leaf values of a whole answer with every $ref expanded (recursion counted once). A
    # model writes each of them: a chain of definitions that each reference the next 20
    # times passes every limit above yet asks for 20^9 values, which no answer can hold.
    max_expanded_fields: int = Field(default=10_000, gt=0)

    def key(self, field: str) -> str:
        """The TOML spelling of a field, for error messages: `[extractors.limits] max_depth`."""
        if field not in type(self).model_fields:
            raise KeyError(field)
        return f"[{TOML_TABLE}] {field}"
