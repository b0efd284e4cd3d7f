"""Batch views: the summary model, one NDJSON result line per job, the documented request body."""

from __future__ import annotations

import json
from types import EllipsisType
from typing import Any

from pydantic import BaseModel, ValidationError

from api.killswitch import read_killswitch
from schemas.api import Usage
from schemas.batch_api import KEY_PREFIX, BatchCreate, BatchOut, BatchStatus, KillSwitchOut
from schemas.config import get_settings
from storage.batches import Summary
from storage.models import Batch
from storage.results import JobResult


def batch_out(
    batch: Batch, summary: Summary, killswitch: KillSwitchOut | EllipsisType | None = ...
) -> BatchOut:
    """The public view of a batch; the kill switch is read now unless given (`...`)."""
    if isinstance(killswitch, EllipsisType):  # a list reads it once for the whole page
        killswitch = read_killswitch(get_settings().redis_url)
    return BatchOut(
        id=batch.id,
        schema_name=batch.schema_name,
        tier=batch.tier,
        lane=batch.lane,
        status=BatchStatus(summary.status),
        total=summary.total,
        counts=summary.counts,
        review=summary.review,
        progress=summary.progress,
        usage=Usage.model_validate(summary, from_attributes=True),
        created_at=batch.created_at,
        cancelled_at=batch.cancelled_at,
        finished_at=summary.finished_at,
        killswitch=killswitch,
    )


def result_line(row: JobResult) -> bytes:
    """One job of GET /v1/batches/{id}/results as an NDJSON line."""
    key = row.idempotency_key
    error = {"type": row.error_type, "message": row.error_message or ""} if row.error_type else None
    out = {
        "id": str(row.id),
        "key": key.removeprefix(KEY_PREFIX) if key else None,
        "filename": row.filename,
        "status": row.status,
        "tier": row.tier,
        "lane": row.lane,
        "lane_reason": row.lane_reason,
        "deadline": row.deadline.isoformat() if row.deadline else None,
        "model": row.model,  # the model whose answer is the result (null without one)
        "result": row.result,  # the final values: a review's corrections included
        # Trust: where the job stands in review, its lowest field confidence, and the
        # extraction as first written once a review corrected it (else null).
        "review_state": row.review_state,
        "confidence": row.confidence,
        "original_result": row.original_result,
        "result_version": row.result_version,
        "error": error,
        "metadata": row.meta,
        "usage": {
            "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens,
            "cost_usd": str(row.cost_usd),
        },
    }
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def validation_reason(exc: ValidationError) -> str:
    """A short, one-line account of what failed validation."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
    return "; ".join(parts)[:300]


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with its $defs inlined (openapi_extra cannot carry $defs)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        return [resolve(v) for v in node] if isinstance(node, list) else node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


# The route reads the body itself (to stream NDJSON), so OpenAPI is told what it takes.
BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline(BatchCreate)},
            "application/x-ndjson": {
                "schema": {
                    "type": "string",
                    "description": "line 1: {schema, tier, lane?, deadline?, webhook_url?}; "
                    "then one document object per line "
                    "({text | content_base64, filename, key, metadata})",
                }
            },
        },
    }
}
