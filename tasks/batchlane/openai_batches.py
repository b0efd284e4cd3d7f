"""The OpenAI Batch API (Files + Batches) as a BatchProvider, through the official SDK."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

import openai
from openai.types import Batch

from tasks.batchlane.providers import (
    LIMITS,
    BatchRequest,
    ItemKind,
    ItemResult,
    Polled,
    Submitted,
    encode_jsonl,
    epoch,
    unique_results,
)

METADATA_KEY = "docqueue_submission"
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
LINE_ERROR_KINDS = {"batch_expired": "expired", "batch_cancelled": "cancelled"}
LIST_PAGE = 100


class OpenAIBatches:
    """Submit, find, poll, read and cancel OpenAI batches of chat completions."""

    name = "openai"

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def submit(self, *, submission_id: str, requests: Sequence[BatchRequest]) -> Submitted:
        """Upload the JSONL input file, then create the batch tagged with the submission id."""
        limits = LIMITS[self.name]
        data = encode_jsonl(requests)
        if not requests or len(requests) > limits.max_requests or len(data) > limits.max_bytes:
            raise ValueError(f"{len(requests)} requests / {len(data)} bytes: shard them first")
        uploaded = self.client.files.create(
            file=(f"docqueue-{submission_id}.jsonl", data), purpose="batch"
        )
        try:
            batch = self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata={METADATA_KEY: submission_id},
            )
        except openai.APIStatusError:
            # Refused outright: nothing will read the file, so do not leave it behind.
            self.client.files.delete(uploaded.id)
            raise
        return _submitted(batch)

    def find(
        self,
        *,
        submission_id: str,
        created_after: datetime,
        custom_ids: Sequence[str],
        exclude: Collection[str] = (),
    ) -> Submitted | None:
        """The newest batch whose metadata names this submission, created after created_after.

        Batches are listed newest first and paged until one is older than created_after, so
        the search costs as many pages as batches were created since. custom_ids are unused:
        the metadata tag identifies the submission exactly.
        """
        del custom_ids, exclude  # the tag names one submission: no other can match
        floor = created_after.timestamp()
        for batch in self.client.batches.list(limit=LIST_PAGE):
            if batch.created_at < floor:
                return None
            if (batch.metadata or {}).get(METADATA_KEY) == submission_id:
                return _submitted(batch)
        return None

    def poll(self, *, provider_batch_id: str) -> Polled:
        """The batch's status; `failed` carries the validation errors as text."""
        batch = self.client.batches.retrieve(provider_batch_id)
        counts = batch.request_counts.model_dump() if batch.request_counts else {}
        error = None
        if batch.status == "failed":
            error = "; ".join(
                _describe(e) for e in (batch.errors.data if batch.errors else None) or []
            )
            error = error or "the batch failed"
        return Polled(
            status=batch.status,
            ended=batch.status in ENDED,
            failed=batch.status == "failed",
            error=error,
            counts={k: int(v) for k, v in counts.items()},
            expires_at=epoch(batch.expires_at),
        )

    def results(self, *, provider_batch_id: str) -> Iterator[ItemResult]:
        """Stream the output file, then the error file; each custom_id is yielded once."""
        batch = self.client.batches.retrieve(provider_batch_id)
        seen: set[str] = set()
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id is None:
                continue
            with self.client.files.with_streaming_response.content(file_id) as response:
                yield from unique_results(response.iter_lines(), parse_line, seen)

    def cancel(self, *, provider_batch_id: str) -> None:
        """Ask OpenAI to cancel; a batch that already ended is left as it is."""
        try:
            self.client.batches.cancel(provider_batch_id)
        except openai.ConflictError:
            return


def parse_line(line: dict[str, Any]) -> ItemResult:
    """One output or error file line as an ItemResult."""
    custom_id = str(line["custom_id"])
    response = line.get("response")
    if isinstance(response, dict):
        status = int(response["status_code"])
        body = response.get("body")
        kind: ItemKind = "answered" if status == 200 else "errored"
        return ItemResult(custom_id, kind, status, body if isinstance(body, dict) else None)
    error = line.get("error") if isinstance(line.get("error"), dict) else {}
    known = LINE_ERROR_KINDS.get(str((error or {}).get("code")))
    if known == "expired":
        return ItemResult(custom_id, "expired", None, None)
    if known == "cancelled":
        return ItemResult(custom_id, "cancelled", None, None)
    # A non-HTTP failure of the item: errored, with no status the realtime lane would know.
    return ItemResult(custom_id, "errored", None, {"error": error})


def _describe(error: Any) -> str:
    where = f" (line {error.line})" if error.line is not None else ""
    return f"{error.code}: {error.message}{where}"


def _submitted(batch: Batch) -> Submitted:
    return Submitted(batch.id, batch.input_file_id, batch.status, epoch(batch.expires_at))
