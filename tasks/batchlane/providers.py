"""The batch lane's provider-neutral transport: requests, submissions, polls, item results.

Pure transport: no database, no instructor. The batcher packs `BatchRequest`s (the exact JSON
body the realtime lane would POST), `shard`s them under the provider's `LIMITS`, submits each
shard, polls until it has ended and streams its `ItemResult`s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

__all__ = [
    "HTTP_STATUS_OF_ERROR",
    "LIMITS",
    "BatchProvider",
    "BatchRequest",
    "FakeBatchProvider",
    "ItemKind",
    "ItemResult",
    "Limits",
    "Polled",
    "Submitted",
    "anthropic_entry_size",
    "encode_jsonl",
    "epoch",
    "jsonl_line",
    "openai_line_size",
    "shard",
]

ItemKind = Literal["answered", "errored", "expired", "cancelled"]
OPENAI_ENDPOINT = "/v1/chat/completions"  # the only endpoint the lane batches

# Anthropic's error `type` -> the HTTP status the realtime endpoint would have answered with.
HTTP_STATUS_OF_ERROR = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One item: its custom_id and the realtime request body (model included) as JSON text.

    Text, not a dict: the batcher reads it from Postgres as text and splices it into the
    JSONL line, so packing never parses and re-encodes megabytes of request bodies.
    """

    custom_id: str
    body_json: str

    @classmethod
    def of(cls, custom_id: str, body: dict[str, Any]) -> BatchRequest:
        """The request with this body."""
        return cls(custom_id, json.dumps(body, ensure_ascii=False, separators=(",", ":")))

    @property
    def body(self) -> dict[str, Any]:
        """The body as a dict, parsed on each use (the Anthropic SDK takes one)."""
        parsed: dict[str, Any] = json.loads(self.body_json)
        return parsed


@dataclass(frozen=True, slots=True)
class Submitted:
    """A provider batch that exists: its id, its input file (OpenAI), status and expiry."""

    provider_batch_id: str
    input_file_id: str | None
    status: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Polled:
    """A batch's state: the provider's status word, whether it ended or failed, its counts."""

    status: str
    ended: bool  # no more results will change (completed, failed, expired, cancelled / ended)
    failed: bool  # the provider refused or failed the whole batch; `error` says why
    error: str | None
    counts: dict[str, int]
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item's outcome: an answer (200), an error answer, or no answer (expired/cancelled)."""

    custom_id: str
    kind: ItemKind
    status: int | None  # HTTP status of the answer: 200, or the error's status
    body: dict[str, Any] | None  # chat.completion / Message JSON, or the provider's error body


class BatchProvider(Protocol):
    """What the batcher needs from a batch API."""

    name: str  # "openai" | "anthropic"

    def submit(self, *, submission_id: str, requests: Sequence[BatchRequest]) -> Submitted:
        """Create a provider batch holding these requests."""
        ...

    def find(
        self,
        *,
        submission_id: str,
        created_after: datetime,
        custom_ids: Sequence[str],
        exclude: Collection[str] = (),
    ) -> Submitted | None:
        """The batch this submission already created (before a crash), if any.

        `exclude`: provider batch ids already recorded for other submissions, never a match.
        """
        ...

    def poll(self, *, provider_batch_id: str) -> Polled:
        """The batch's current state."""
        ...

    def results(self, *, provider_batch_id: str) -> Iterator[ItemResult]:
        """Every item result of an ended batch, each custom_id once."""
        ...

    def cancel(self, *, provider_batch_id: str) -> None:
        """Ask the provider to stop the batch."""
        ...


def unique_results(
    lines: Iterator[Any], parse: Callable[[dict[str, Any]], ItemResult], seen: set[str]
) -> Iterator[ItemResult]:
    """Parse a results file's JSON lines, skipping blanks and custom_ids already in `seen`."""
    for raw in lines:
        if not raw.strip():
            continue
        result = parse(json.loads(raw))
        if result.custom_id not in seen:
            seen.add(result.custom_id)
            yield result


def jsonl_line(request: BatchRequest) -> bytes:
    """One OpenAI Batch input line, newline included."""
    head = {"custom_id": request.custom_id, "method": "POST", "url": OPENAI_ENDPOINT}
    opening = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    return f'{opening},"body":{request.body_json}}}\n'.encode()


def encode_jsonl(requests: Sequence[BatchRequest]) -> bytes:
    """The OpenAI Batch input file for these requests."""
    return b"".join(jsonl_line(r) for r in requests)


def openai_line_size(request: BatchRequest) -> int:
    """Bytes the request takes in an OpenAI input file."""
    return len(jsonl_line(request))


def anthropic_entry_size(request: BatchRequest) -> int:
    """Bytes the request takes in a Message Batch body (an upper bound, separator included)."""
    # Default dumps (ASCII escapes, spaced separators) is at least as long as any SDK encoding.
    return len(json.dumps({"custom_id": request.custom_id, "params": request.body})) + 2


@dataclass(frozen=True, slots=True)
class Limits:
    """A provider's per-batch limits and how it counts a request's bytes."""

    max_requests: int
    max_bytes: int
    size: Callable[[BatchRequest], int]


# The documented limits, less 1 MiB of headroom for envelopes and multipart framing.
LIMITS = {
    "openai": Limits(50_000, 200 * 1024 * 1024 - (1 << 20), openai_line_size),
    "anthropic": Limits(100_000, 256 * 1024 * 1024 - (1 << 20), anthropic_entry_size),
}


def shard(
    requests: Sequence[BatchRequest],
    *,
    max_requests: int,
    max_bytes: int,
    size: Callable[[BatchRequest], int] = openai_line_size,
) -> list[list[BatchRequest]]:
    """Split requests, in order, into shards of at most max_requests and max_bytes each.

    Bytes are counted by `size` (the provider's encoding: `LIMITS[name].size`); a request
    that alone exceeds max_bytes can never be sent and raises ValueError.
    """
    if max_requests < 1 or max_bytes < 1:
        raise ValueError("max_requests and max_bytes must be positive")
    shards: list[list[BatchRequest]] = []
    current: list[BatchRequest] = []
    used = 0
    for request in requests:
        cost = size(request)
        if cost > max_bytes:
            raise ValueError(f"request {request.custom_id} alone is {cost} bytes > {max_bytes}")
        if current and (len(current) >= max_requests or used + cost > max_bytes):
            shards.append(current)
            current, used = [], 0
        current.append(request)
        used += cost
    if current:
        shards.append(current)
    return shards


def epoch(seconds: int | float | None) -> datetime | None:
    """A Unix timestamp as an aware UTC datetime."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass
class FakeBatchProvider:
    """An in-memory BatchProvider for logic tests: records submits, serves what a test sets."""

    name: str = "openai"
    submits: list[tuple[str, list[BatchRequest]]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    polled: dict[str, Polled] = field(default_factory=dict)
    result_lines: dict[str, list[ItemResult]] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    fail_submit: Exception | None = None  # raised by the next submit, then cleared

    def submit(self, *, submission_id: str, requests: Sequence[BatchRequest]) -> Submitted:
        """Record the submission and return a batch id derived from its order."""
        if self.fail_submit is not None:
            error, self.fail_submit = self.fail_submit, None
            raise error
        batch_id = f"fake_batch_{len(self.submits)}"
        self.submits.append((submission_id, list(requests)))
        self.created[batch_id] = datetime.now(UTC)
        return Submitted(batch_id, f"fake_file_{len(self.submits)}", "in_progress", None)

    def find(
        self,
        *,
        submission_id: str,
        created_after: datetime,
        custom_ids: Sequence[str],
        exclude: Collection[str] = (),
    ) -> Submitted | None:
        """The newest recorded batch of this submission created after `created_after`."""
        del custom_ids, exclude
        for index in reversed(range(len(self.submits))):
            batch_id = f"fake_batch_{index}"
            if self.submits[index][0] == submission_id and self.created[batch_id] > created_after:
                return Submitted(batch_id, f"fake_file_{index + 1}", "in_progress", None)
        return None

    def poll(self, *, provider_batch_id: str) -> Polled:
        """What the test set with `finish` or `polled`, else still in progress."""
        return self.polled.get(
            provider_batch_id, Polled("in_progress", False, False, None, {}, None)
        )

    def results(self, *, provider_batch_id: str) -> Iterator[ItemResult]:
        """The results the test set for this batch."""
        return iter(list(self.result_lines.get(provider_batch_id, [])))

    def cancel(self, *, provider_batch_id: str) -> None:
        """Record the cancel."""
        self.cancels.append(provider_batch_id)

    def finish(
        self, provider_batch_id: str, results: Sequence[ItemResult], *, status: str = "ended"
    ) -> None:
        """Test helper: end the batch with these results."""
        self.result_lines[provider_batch_id] = list(results)
        self.polled[provider_batch_id] = Polled(
            status, True, status == "failed", None, {"total": len(results)}, None
        )
