"""`docqueue extractor infer`: send sample documents, wait (bounded) for the proposed schema."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from scripts.client import Client, DocqueueError, WaitTimeoutError, polls
from scripts.ingest import sources

MAX_SAMPLES = 5  # what POST /v1/extractors/infer accepts
FIRST_POLL_S, MAX_POLL_S = 0.5, 5.0  # an inference takes seconds: no need to poll faster
FAILED = frozenset({"failed", "cancelled"})


def infer_samples(paths: list[str]) -> list[dict[str, str]]:
    """The samples as the API takes them: text (or base64 for binaries) and a filename."""
    files = sources.expand(paths)
    samples: list[dict[str, str]] = []
    for doc in sources.read(files, schema="infer"):
        sample: dict[str, str] = {
            k: str(doc.body[k]) for k in ("text", "content_base64") if k in doc.body
        }
        if doc.body.get("filename"):
            # The name alone: its extension tells the format, the folders are nobody's business.
            sample["filename"] = PurePath(doc.body["filename"]).name
        samples.append(sample)
    if not 1 <= len(samples) <= MAX_SAMPLES:
        raise sources.SourceError(
            f"give 1 to {MAX_SAMPLES} sample documents (found {len(samples)})"
        )
    return samples


def wait_for_schema(
    api: Client,
    answer: dict[str, Any],
    *,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll an inference job until it succeeds and return its answer.

    DocqueueError if it fails or is cancelled; WaitTimeoutError once `timeout_s` has passed,
    each poll's request included. `answer` (the POST's) counts as the first poll.
    """
    job_id = str(answer.get("job_id", ""))
    ticks = polls(
        timeout_s, first_s=FIRST_POLL_S, max_s=MAX_POLL_S, growth=1.5, sleep=sleep, clock=clock
    )
    for n, left in enumerate(ticks):
        if n:
            answer = api.inference(job_id, within=left)
        status = str(answer.get("status", ""))
        if status == "succeeded" and isinstance(answer.get("json_schema"), dict):
            return answer
        if status in FAILED:
            error = answer.get("error") or {}
            why = f"{error.get('type', status)}: {error.get('message', 'no reason given')}"
            raise DocqueueError(f"schema inference {job_id} {status}: {why}", type_=status)
    raise WaitTimeoutError(
        f"schema inference {job_id} still {answer.get('status') or 'pending'} after "
        f"{timeout_s:g}s; fetch it later with GET /v1/extractors/infer/{job_id}",
        last=answer,
    )


def write_schema(path: Path, schema: dict[str, Any]) -> None:
    """Write the schema as indented JSON; the file appears whole or not at all."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def cost_text(answer: dict[str, Any]) -> str:
    """The inference's cost as `$0.001234` (the API sends a decimal string or a number)."""
    cost = answer.get("cost_usd")
    if cost is None:
        return "$-"
    try:
        return f"${float(cost):.6f}"
    except (TypeError, ValueError):
        return f"${cost}"
