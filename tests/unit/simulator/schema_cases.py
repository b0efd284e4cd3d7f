"""Hand-written schemas covering every keyword docqueue's door check accepts, and mixes of them."""

from __future__ import annotations

from typing import Any


def closed(props: dict[str, Any], req: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A closed object: additionalProperties false, every property required unless told."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if req is None else req,
        "additionalProperties": False,
        **extra,
    }


def text(**keywords: Any) -> dict[str, Any]:
    """A string schema."""
    return {"type": "string", **keywords}


_ITEM = closed(
    {"sku": text(pattern="^[A-Z]{3}-[0-9]{4}$"), "qty": {"type": "integer", "minimum": 1}}
)
_NODE = {"$ref": "#/$defs/Node"}
_CHAIN: dict[str, Any] = {"type": "string", "minLength": 2}
for _level in range(20):  # a long required chain: deep, yet not recursive
    _CHAIN = closed({f"level{_level}": _CHAIN})

CASES: dict[str, dict[str, Any]] = {
    "string_lengths": closed(
        {
            "name": text(minLength=3, maxLength=5),
            "long": text(minLength=80),
            "tiny": text(maxLength=1),
            "empty": text(maxLength=0),
            "exact": text(minLength=7, maxLength=7),
        }
    ),
    "pattern_code_with_lengths": closed(
        {
            "code": text(pattern="^[A-Z]{2}-\\d{4,6}$"),
            "short_code": text(pattern="^[A-Z]{2}-\\d{4,6}$", maxLength=8),
            "long_code": text(pattern="^[A-Z]{2}-\\d{4,6}$", minLength=9),
        }
    ),
    "pattern_invoice_number": closed({"number": text(pattern="^INV-[0-9]{3}$")}),
    "pattern_phone_capped": closed({"phone": text(pattern="^\\+?[0-9 ]{7,15}$", maxLength=12)}),
    "pattern_alternation_and_groups": closed(
        {
            "currency": text(pattern="^(EUR|USD|GBP)$"),
            "full_name": text(pattern="^(?:[A-Z][a-z]+ ){1,3}[A-Z][a-z]+$", maxLength=30),
            "slug": text(pattern="^[a-z]+(-[a-z]+)*$", minLength=10, maxLength=10),
            "decimal": text(pattern="^\\d{3}\\.\\d{2}$"),
            "mailish": text(pattern="^[^@\\s]+@[^@\\s]+$"),
            "spaced": text(pattern="^[a-z ]+$", minLength=50),
        }
    ),
    "pattern_unanchored_short_match": closed(
        {"ref": text(pattern="INV", minLength=12), "digit": text(pattern="[0-9]", maxLength=4)}
    ),
    "pattern_named_groups_and_flags": closed(
        {"stamp": text(pattern="^(?P<y>\\d{4})/(?i:q)[1-4]$"), "ci": text(pattern="(?i)^ab+c$")}
    ),
    "re2_unicode_classes": closed(
        {"word": text(pattern="^\\p{Lu}\\p{Ll}+$"), "greek": text(pattern="^\\p{Greek}{3,5}$")}
    ),
    "re2_posix_classes": closed(
        {
            "code": text(pattern="^[[:upper:]]{2}[[:digit:]]{3}\\z"),
            "quoted": text(pattern="^\\Qa.b\\E-\\x{41}$"),
            "literal_brace": text(pattern="^a{,3}$"),
        }
    ),
    "numbers": closed(
        {
            "step": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 5, "maximum": 100},
            "between": {"type": "integer", "exclusiveMinimum": 7, "exclusiveMaximum": 10},
            "money": {"type": "number", "multipleOf": 0.01, "minimum": 0, "maximum": 10000},
            "quarter": {"type": "number", "multipleOf": 0.25},
            "tiny": {"type": "number", "exclusiveMinimum": 0.001, "maximum": 0.005},
            "negative": {"type": "number", "maximum": -5},
        }
    ),
    "number_bounds_mixed": closed(
        {
            "both_mins": {"type": "number", "minimum": 0, "exclusiveMinimum": 5},
            "huge": {"type": "integer", "minimum": 1_000_000},
            "below": {"type": "integer", "maximum": -3},
            "sevens": {"type": "integer", "multipleOf": 7, "minimum": 50, "maximum": 60},
            "halves": {"type": "integer", "multipleOf": 1.5, "minimum": -10, "maximum": -1},
            "tenth": {"type": "number", "multipleOf": 0.1, "exclusiveMaximum": 1},
            "quantity": {"type": "number", "minimum": 0.5, "maximum": 0.7},
        }
    ),
    "enums_and_consts": closed(
        {
            "rating": {"enum": [1, 2.5, 3]},
            "maybe": {"enum": ["a", None]},
            "typed": {"type": "integer", "enum": [1, 2, "x"]},
            "fixed": {"const": "fixed"},
            "answer": {"const": 42},
            "blob": {"const": {"a": [1, 2]}},
            "level": {"type": "string", "enum": ["low", "high"], "description": "How bad"},
        }
    ),
    "formats": closed(
        {
            "when": text(format="date-time"),
            "day": text(format="date"),
            "mail": text(format="email"),
            "link": text(format="uri"),
            "id": text(format="uuid"),
        }
    ),
    "formats_with_lengths_and_patterns": closed(
        {
            "short_mail": text(format="email", maxLength=10),
            "short_link": text(format="uri", maxLength=12),
            "long_stamp": text(format="date-time", minLength=24),
            "corp_mail": text(format="email", pattern="^[a-z]+@corp\\.com$"),
            "secure_link": text(format="uri", pattern="^https://"),
            "iso_day": text(format="date", pattern="^\\d{4}-\\d{2}-\\d{2}$"),
            "upper_id": text(format="uuid", pattern="^[0-9a-f-]{36}$"),
        }
    ),
    "name_hints_under_constraints": closed(
        {
            "email": text(maxLength=6),
            "url": text(pattern="^ftp://[a-z]+$"),
            "currency": text(pattern="^[a-z]{3}$"),
            "language": text(minLength=4),
            "country_code": text(pattern="^[A-Z]{2}$", description="ISO 3166 alpha-2"),
        }
    ),
    "anyof_object_or_null": closed(
        {
            "address": {
                "anyOf": [
                    closed({"street": text(), "zip": text(pattern="^\\d{5}$")}),
                    {"type": "null"},
                ]
            },
            "note": {"anyOf": [{"type": "null"}, text(maxLength=4)]},
        }
    ),
    "anyof_scalars_and_siblings": closed(
        {
            "id": {"anyOf": [text(pattern="^ID[0-9]{2}$"), {"type": "integer", "minimum": 100}]},
            "short": {"type": ["string", "null"], "anyOf": [{"maxLength": 4}, {"type": "null"}]},
            "either": {"anyOf": [{"type": "integer", "exclusiveMaximum": 0}, {"type": "boolean"}]},
        }
    ),
    "type_lists": closed(
        {
            "code": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$"},
            "count": {"type": ["integer", "null"], "minimum": 3, "maximum": 4},
            "mixed": {"type": ["string", "integer"], "maxLength": 3},
            "flag": {"type": "boolean"},
            "nothing": {"type": "null"},
        }
    ),
    "arrays_of_refs": {
        "$defs": {"Item": _ITEM},
        **closed(
            {
                "some": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/Item"},
                    "minItems": 2,
                    "maxItems": 4,
                },
                "five": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/Item"},
                    "minItems": 5,
                    "maxItems": 5,
                },
                "none": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "maxItems": 0},
                "one": {"type": "array", "items": text(format="email"), "maxItems": 1},
                "grid": {
                    "type": "array",
                    "minItems": 2,
                    "items": {
                        "type": "array",
                        "minItems": 3,
                        "items": {"type": "number", "minimum": 0},
                    },
                },
            }
        ),
    },
    "recursive_tree_optional_children": {
        "$defs": {
            "Node": closed(
                {"name": text(minLength=1), "children": {"type": "array", "items": _NODE}}, ["name"]
            )
        },
        **closed({"root": _NODE}),
    },
    "recursive_required_children_min_zero": {
        "$defs": {
            "Node": closed(
                {
                    "label": text(),
                    "kids": {"type": "array", "items": _NODE, "minItems": 0, "maxItems": 3},
                }
            )
        },
        **closed({"tree": _NODE}),
    },
    "recursive_anyof_scalar_exit": {
        "$defs": {
            "Expr": {
                "anyOf": [
                    closed(
                        {
                            "op": {"enum": ["+", "*"]},
                            "left": {"$ref": "#/$defs/Expr"},
                            "right": {"$ref": "#/$defs/Expr"},
                        }
                    ),
                    {"type": "integer", "minimum": 0, "maximum": 9},
                ]
            }
        },
        **closed({"expr": {"$ref": "#/$defs/Expr"}}),
    },
    "recursive_linked_list_nullable_next": {
        "$defs": {
            "Cell": closed(
                {
                    "value": {"type": "integer"},
                    "next": {"anyOf": [{"$ref": "#/$defs/Cell"}, {"type": "null"}]},
                }
            )
        },
        **closed({"head": {"$ref": "#/$defs/Cell"}}),
    },
    "mutual_recursion": {
        "$defs": {
            "Folder": closed(
                {"name": text(), "files": {"type": "array", "items": {"$ref": "#/$defs/File"}}},
                ["name"],
            ),
            "File": closed(
                {"name": text(pattern="^[a-z]+\\.txt$"), "parent": {"$ref": "#/$defs/Folder"}},
                ["name"],
            ),
        },
        **closed({"top": {"$ref": "#/$defs/Folder"}}),
    },
    "root_is_a_ref": {
        "$defs": {
            "Root": closed(
                {"title": text(), "year": {"type": "integer", "minimum": 1900, "maximum": 2100}}
            )
        },
        "$ref": "#/$defs/Root",
    },
    "deep_required_chain": closed({"chain": _CHAIN}),
    "annotations_and_extensions": closed(
        {
            "name": text(
                title="Name", description="Who", default="x", examples=["Ann"], maxLength=9
            ),
            "score": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "x-docqueue-merge": "max",
                "x-docqueue-source": True,
            },
        },
        title="Annotated",
        description="Annotations everywhere",
    )
    | {"x-docqueue-version": 3},
    "required_without_properties": {
        "type": "object",
        "properties": {"known": text()},
        "required": ["known", "unknown"],
    },
    "empty_objects": closed({"open": {"type": "object"}, "closed": closed({})}),
    "references_vs_enum": closed(
        {
            "parties": {"type": "array", "minItems": 1, "items": closed({"name": text()})},
            "obligations": {
                "type": "array",
                "items": closed({"party": {"enum": ["Buyer", "Seller"]}}),
            },
            "payments": {"type": "array", "items": closed({"party": text(maxLength=3)})},
        }
    ),
}

# Patterns Python's `re` reads differently or not at all: checked under RE2 only.
RE2_ONLY = frozenset({"re2_unicode_classes", "re2_posix_classes"})
