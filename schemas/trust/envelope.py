"""The answer envelope: every extraction also returns evidence and whether the document fits.

The engine wraps each extractor's model in this envelope before it calls a provider, so no
schema author writes evidence fields. The tool schema the provider sees is the envelope's:
`document_fit` first (the model decides what it is reading), then `data` (the extractor's
own model, unchanged), then `evidence`, one verbatim quote per non-null leaf of `data`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic.json_schema import DEFAULT_REF_TEMPLATE, GenerateJsonSchema, JsonSchemaMode

__all__ = [
    "DATA",
    "EVIDENCE",
    "EVIDENCE_VERSION",
    "FIT",
    "DocumentFit",
    "Quote",
    "answer_model",
    "evidence_note",
    "is_envelope",
]

# Bump when the envelope or its instructions change: jobs record it beside the prompt.
EVIDENCE_VERSION = "2026-12-01.1"
FIT, DATA, EVIDENCE = "document_fit", "data", "evidence"
MAX_QUOTES = 2000
MAX_QUOTE, MAX_PATH, MAX_REASON = 1000, 512, 300
POINTER = r"^(/([^/~]|~[01])*)+$"  # RFC 6901, at least one segment


class DocumentFit(BaseModel):
    """Whether the document is the kind of document the schema describes."""

    # The envelope's limits are in the schema the model sees, but a slip in them is cut, not
    # refused: a re-ask costs a call, and the extraction in `data` may be perfectly good.
    model_config = ConfigDict(extra="ignore")

    fits: bool = Field(
        default=True,
        description="true if the document is the kind of document the schema describes; "
        "false if it is clearly another kind (for example a licence sent to an invoice schema).",
    )
    reason: str = Field(
        default="",
        description="One short sentence: what the document is, and why it fits.",
        json_schema_extra={"maxLength": MAX_REASON},
    )

    @field_validator("reason", mode="before")
    @classmethod
    def _cut_reason(cls, value: Any) -> Any:
        return value[:MAX_REASON] if isinstance(value, str) else value


class Quote(BaseModel):
    """The words of the document that state one field's value."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(
        description="JSON Pointer of the field inside `data`, e.g. /vendor/name or "
        "/line_items/0/amount.",
        json_schema_extra={"pattern": POINTER, "maxLength": MAX_PATH},
    )
    quote: str = Field(
        description="Text copied verbatim from the document (a few words up to one line) "
        "that contains the value. Never paraphrase.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUOTE},
    )

    @field_validator("path", "quote", mode="before")
    @classmethod
    def _cut(cls, value: Any, info: ValidationInfo) -> Any:
        limit = MAX_PATH if info.field_name == "path" else MAX_QUOTE
        return value[:limit] if isinstance(value, str) else value


def evidence_note() -> str:
    """The instruction the engine adds to every system prompt."""
    return (
        "Besides the extracted `data`, return `evidence`: for every non-null leaf value in "
        "`data`, one entry with its JSON Pointer and a short quote copied verbatim from the "
        "document that contains that value. If the document does not state a field, set it "
        "to null when the schema allows null, and give no evidence for it: never invent a "
        "value. Set `document_fit` to say whether the document is the kind the schema "
        "describes."
    )


class _Envelope(BaseModel):
    """The envelope's base: its JSON Schema carries the extractor's own schema as `data`."""

    model_config = ConfigDict(extra="ignore")
    docqueue_inner: ClassVar[type[BaseModel]]

    @classmethod
    def model_json_schema(
        cls,
        by_alias: bool | None = None,
        ref_template: str = DEFAULT_REF_TEMPLATE,
        schema_generator: type[GenerateJsonSchema] = GenerateJsonSchema,
        mode: JsonSchemaMode = "validation",
        *,
        union_format: Literal["any_of", "primitive_type_array"] = "any_of",
    ) -> dict[str, Any]:
        """The envelope with `data` as the extractor's schema says, whatever made that schema.

        Pydantic would describe a nested model by its fields, but a tenant's model
        (schemas/extractors/model.py) holds its schema as given and says so only through its
        own model_json_schema: that schema goes in, its $defs hoisted to the root so each
        `#/$defs/...` still resolves. The envelope's own definitions are renamed out of the
        way of the tenant's.
        """
        schema = super().model_json_schema(
            by_alias, ref_template, schema_generator, mode, union_format=union_format
        )
        inner = cls.docqueue_inner.model_json_schema()
        own = schema.get("$defs", {})
        defs: dict[str, Any] = dict(inner.pop("$defs", {}) or {})
        for name in ("DocumentFit", "Quote"):
            defs[f"{_DEF_PREFIX}{name}"] = own[name]
        fit = defs[f"{_DEF_PREFIX}DocumentFit"]
        fit["required"] = ["fits", "reason"]  # defaults are for a slip, not an invitation
        for prop in fit["properties"].values():
            prop.pop("default", None)
        props = schema["properties"]
        props[FIT] = {"$ref": f"#/$defs/{_DEF_PREFIX}DocumentFit"}
        props[EVIDENCE]["items"] = {"$ref": f"#/$defs/{_DEF_PREFIX}Quote"}
        props[DATA] = {**inner, "description": inner.get("description") or _DATA_DESCRIPTION}
        schema["$defs"] = defs
        schema["required"] = [FIT, DATA, EVIDENCE]  # asked for always, defaulted when missing
        return schema

    # Field-level, not model-level: a model `before` validator would hand instructor's
    # strict JSON validation a Python dict, and `data` would then refuse ISO date strings.
    @field_validator(FIT, mode="before", check_fields=False)
    @classmethod
    def _fit_or_none(cls, value: Any) -> Any:
        return value if isinstance(value, dict | DocumentFit) else {"fits": True, "reason": ""}

    @field_validator(EVIDENCE, mode="before", check_fields=False)
    @classmethod
    def _quotes_kept(cls, value: Any) -> Any:
        # Quotes past the cap, or not objects, go: they are a signal, never a reason to re-ask.
        if not isinstance(value, list):
            return []
        return [q for q in value if isinstance(q, dict | Quote)][:MAX_QUOTES]


def is_envelope(model: type[BaseModel]) -> bool:
    """Whether `model` is an evidence envelope (its answers run longer: quotes ride along)."""
    return issubclass(model, _Envelope)


_DEF_PREFIX = "docqueue_"
_DATA_DESCRIPTION = "The extraction, in the extractor's schema."


@lru_cache(maxsize=1024)  # built once per model: instructor then caches its tool schema
def answer_model(model: type[BaseModel]) -> type[BaseModel]:
    """`model` inside the evidence envelope (the class providers are asked to fill)."""
    envelope: type[_Envelope] = create_model(
        f"{model.__name__}Answer",
        # The tool's description: the extractor's own (a tenant's lives in its schema).
        __doc__=str(
            model.model_json_schema().get("description")
            or model.__doc__
            or f"An extraction into {model.__name__}."
        ).strip(),
        __base__=_Envelope,
        document_fit=(DocumentFit, Field(default_factory=DocumentFit)),
        data=(model, Field(description=_DATA_DESCRIPTION)),
        evidence=(
            list[Quote],
            Field(
                max_length=MAX_QUOTES, description="One quote per non-null leaf value of `data`."
            ),
        ),
    )
    envelope.docqueue_inner = model
    return envelope
