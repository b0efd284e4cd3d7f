"""Anthropic Message Batches as a BatchProvider, through the official SDK."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

import anthropic
from anthropic.types.messages import MessageBatch

from tasks.batchlane.providers import (
    HTTP_STATUS_OF_ERROR,
    LIMITS,
    BatchRequest,
    ItemResult,
    Polled,
    Submitted,
    unique_results,
)

LIST_PAGE = 100


class AmbiguousBatch(LookupError):
    """More than one unfinished batch could be the submission's: try again once they end."""


class AnthropicBatches:
    """Submit, find, poll, read and cancel Anthropic Message Batches."""

    name = "anthropic"

    def __init__(self, client: anthropic.Anthropic) -> None:
        self.client = client

    def submit(self, *, submission_id: str, requests: Sequence[BatchRequest]) -> Submitted:
        """Create one Message Batch holding the requests (submission_id is not sent)."""
        del submission_id  # Message Batches carry no metadata; find() matches by content
        limits = LIMITS[self.name]
        size = sum(limits.size(r) for r in requests)
        if not requests or len(requests) > limits.max_requests or size > limits.max_bytes:
            raise ValueError(f"{len(requests)} requests / {size} bytes: shard them first")
        entries: list[Any] = [{"custom_id": r.custom_id, "params": r.body} for r in requests]
        return _submitted(self.client.messages.batches.create(requests=entries))

    def find(
        self,
        *,
        submission_id: str,
        created_after: datetime,
        custom_ids: Sequence[str],
        exclude: Collection[str] = (),
    ) -> Submitted | None:
        """The batch this submission created before a crash, matched by its contents.

        Anthropic keeps no metadata, so the rule is: list batches newest first, stopping at
        the first created before created_after; a candidate holds exactly len(custom_ids)
        requests (the sum of its request_counts). An ended candidate matches only if the
        custom_ids of its results equal the given set, and the newest such is returned. An
        unfinished candidate cannot be checked: batches in `exclude` (recorded for other
        open submissions, so never ours) are skipped; if one unfinished candidate is left it
        is returned, and if several are, AmbiguousBatch is raised so the caller retries once
        they have ended rather than guess or submit a duplicate.
        """
        del submission_id
        wanted = set(custom_ids)
        unfinished: list[MessageBatch] = []
        for batch in self.client.messages.batches.list(limit=LIST_PAGE):
            if batch.created_at < created_after:
                break
            if batch.id in exclude:  # another submission's: same size, never ours
                continue
            if sum(batch.request_counts.model_dump().values()) != len(wanted):
                continue
            if batch.processing_status != "ended":
                unfinished.append(batch)
            elif {r.custom_id for r in self.results(provider_batch_id=batch.id)} == wanted:
                return _submitted(batch)
        if len(unfinished) > 1:
            ids = ", ".join(b.id for b in unfinished)
            raise AmbiguousBatch(f"several unfinished batches could be the submission: {ids}")
        return _submitted(unfinished[0]) if unfinished else None

    def poll(self, *, provider_batch_id: str) -> Polled:
        """The batch's processing_status and request counts (Anthropic never fails a batch)."""
        batch = self.client.messages.batches.retrieve(provider_batch_id)
        return Polled(
            status=batch.processing_status,
            ended=batch.processing_status == "ended",
            failed=False,
            error=None,
            counts={k: int(v) for k, v in batch.request_counts.model_dump().items()},
            expires_at=batch.expires_at,
        )

    def results(self, *, provider_batch_id: str) -> Iterator[ItemResult]:
        """Stream the results file as raw JSON lines; each custom_id is yielded once."""
        seen: set[str] = set()
        with self.client.messages.batches.with_streaming_response.results(
            provider_batch_id
        ) as response:
            yield from unique_results(response.iter_lines(), parse_line, seen)

    def cancel(self, *, provider_batch_id: str) -> None:
        """Ask Anthropic to cancel; requests already answered keep their results."""
        self.client.messages.batches.cancel(provider_batch_id)


def parse_line(line: dict[str, Any]) -> ItemResult:
    """One results line as an ItemResult; an error keeps the realtime error envelope."""
    custom_id = str(line["custom_id"])
    result = line.get("result") if isinstance(line.get("result"), dict) else {}
    kind = (result or {}).get("type")
    if kind == "succeeded":
        message = (result or {}).get("message")
        return ItemResult(
            custom_id, "answered", 200, message if isinstance(message, dict) else None
        )
    if kind == "errored":
        body = (result or {}).get("error")
        body = body if isinstance(body, dict) else {}
        inner = body.get("error") if isinstance(body.get("error"), dict) else {}
        status = HTTP_STATUS_OF_ERROR.get(str((inner or {}).get("type")), 500)
        return ItemResult(custom_id, "errored", status, body)
    if kind == "canceled":
        return ItemResult(custom_id, "cancelled", None, None)
    if kind == "expired":
        return ItemResult(custom_id, "expired", None, None)
    return ItemResult(custom_id, "errored", None, {"type": "error", "error": result})


def _submitted(batch: MessageBatch) -> Submitted:
    return Submitted(batch.id, None, batch.processing_status, batch.expires_at)
