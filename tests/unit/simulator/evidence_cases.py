"""What the evidence-envelope tests share: prompts as the engine renders them, envelope
schemas (from Pydantic models and tenant-like JSON Schema), and readers for the answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from schemas.extraction.prompts import INVOICE_PROMPT, custom_prompt
from schemas.trust.envelope import answer_model, evidence_note
from tests.support.paths import REPO

ACME = (REPO / "scripts/samples/invoice-acme.txt").read_text()
RESUME = (REPO / "scripts/samples/resume-ada.txt").read_text()


def envelope_of(model: type[BaseModel]) -> dict[str, Any]:
    """The tool schema the engine sends for `model`."""
    return answer_model(model).model_json_schema()


def prompt(text: str, *, sample: int = 1, **render: Any) -> tuple[str, str]:
    """(system, user) texts as the engine sends them, evidence note and sample number in."""
    system, user = (m["content"] for m in INVOICE_PROMPT.render(text=text, **render))
    note = evidence_note() + (f" Independent sample {sample}." if sample > 1 else "")
    return f"{system}\n\n{note}", user


def tenant_prompt(text: str) -> tuple[str, str]:
    """(system, user) for a tenant's extractor."""
    template = custom_prompt(name="Claim", description="An insurance claim.", instructions=None)
    system, user = (m["content"] for m in template.render(text=text))
    return f"{system}\n\n{evidence_note()}", user


def tenant_envelope(data: dict[str, Any]) -> dict[str, Any]:
    """A hand-written envelope around a tenant's JSON Schema, everything inline."""
    fit = {
        "type": "object",
        "properties": {"fits": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 300}},
        "required": ["fits", "reason"],
        "additionalProperties": False,
    }
    quote = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "pattern": "^(/([^/~]|~[01])*)+$"},
            "quote": {"type": "string", "minLength": 1, "maxLength": 1000},
        },
        "required": ["path", "quote"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "title": "ClaimAnswer",
        "properties": {
            "document_fit": fit,
            "data": data,
            "evidence": {"type": "array", "items": quote, "maxItems": 2000},
        },
        "required": ["document_fit", "data", "evidence"],
        "additionalProperties": False,
    }


def nullable(kind: str, **keywords: Any) -> dict[str, Any]:
    """A tenant field that may be null."""
    return {"type": [kind, "null"], **keywords}


CLAIM = {
    "type": "object",
    "title": "Claim",
    "properties": {
        "claim_number": {"type": "string", "pattern": "^CL-[0-9]{4}$"},
        "policy_holder": {"type": "string", "maxLength": 40},
        "incident_date": {"type": "string", "format": "date"},
        "amount_claimed": {"type": "number", "minimum": 0},
        "vehicles": {"type": "integer", "minimum": 1},
        "police_report": {"type": "boolean"},
        "severity": {"type": "string", "enum": ["minor", "major", "total_loss"]},
        "adjuster": nullable("string"),
        "notes": nullable("string", maxLength=5),
        "deductible": nullable("number"),
    },
    "required": [
        *("claim_number", "policy_holder", "incident_date", "amount_claimed", "vehicles"),
        *("police_report", "severity", "adjuster", "notes", "deductible"),
    ],
    "additionalProperties": False,
}
CLAIM_TEXT = """\
Claim number: CL-4821
Policy holder: Jordan Ellis
Incident date: 14 March 2026
Amount claimed: 12,480.50 USD
Vehicles  2
[X] Police report
Severity: MAJOR
Notes: a long remark that is too long for the field
"""


def many_fields(count: int) -> tuple[dict[str, Any], str]:
    """A tenant schema of `count` fields of every scalar kind, and a document stating all."""
    props: dict[str, Any] = {}
    lines: list[str] = []
    start = dt.date(2001, 1, 1)
    for i in range(count):
        kind = i % 5
        if kind == 0:
            props[f"code_{i:03d}"] = {"type": "string", "pattern": "^REF-[0-9]{5}$"}
            lines.append(f"Code {i:03d}: REF-{(i * 7919) % 100000:05d}")
        elif kind == 1:
            props[f"amount_{i:03d}"] = {"type": "number", "minimum": 0}
            lines.append(f"Amount {i:03d}: {(i * 37) % 900 + 10}.{i % 100:02d}")
        elif kind == 2:
            props[f"date_{i:03d}"] = {"type": "string", "format": "date"}
            lines.append(f"Date {i:03d}: {(start + dt.timedelta(days=100 * i)).isoformat()}")
        elif kind == 3:
            props[f"status_{i:03d}"] = {"enum": ["open", "closed", "pending"]}
            lines.append(f"Status {i:03d}: {('open', 'closed', 'pending')[i % 3]}")
        else:
            props[f"insured_{i:03d}"] = {"type": "boolean"}
            lines.append(f"Insured {i:03d}: {'yes' if i % 2 else 'no'}")
    schema = {
        "type": "object",
        "title": "Ledger",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }
    return schema, "\n".join(lines) + "\n"


def at(data: Any, path: str) -> Any:
    """The value at a JSON Pointer."""
    node = data
    for part in path.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def quotes(answer: dict[str, Any]) -> dict[str, str]:
    """The evidence of an answer as {pointer: quote}."""
    return {e["path"]: e["quote"] for e in answer["evidence"]}
