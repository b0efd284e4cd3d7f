"""A job's tape: its provider exchanges so far, replayed so the engine resumes where it was.

The batch lane never re-implements the engine. A batch-lane job runs the same pipeline as a
realtime one, with the SDKs' HTTP transport behind this tape:
- a request already on the tape is answered from it (no call, nothing billed again);
- the first request not on it is, in park mode, `Captured`: its exact bytes, built by
  instructor and the SDK as the realtime lane would send them, go into a provider batch;
- in live mode (a deadline too near for another batch round) it is sent as usual.
Instructor's re-asks are requests like any other, so a re-ask of a batch answer is captured
with instructor's own re-ask messages and goes into the next batch round.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx2

from tasks.errors import TaskError

REPLAY = "docqueue_replay"  # the httpx request extension that carries a recorded answer
# The lane_reason of a job that left the batch lane (its deadline came too near): its tape
# still answers what was recorded, and its next requests go out live.
FINISHED_LIVE = "batch lane: finished realtime"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One recorded request (by its sha-256) and its answer."""

    request_sha: str
    status: int
    body: dict[str, Any] | None
    call_id: int | None = None  # its ledger row (billed when the answer was recorded)


class Captured(TaskError):
    """The first request not on the tape, in park mode: the batcher sends it in a batch."""

    def __init__(self, *, seq: int, provider: str, body: dict[str, Any], request_sha: str) -> None:
        super().__init__(f"request {seq} parked for the batch lane")
        self.seq, self.provider, self.body, self.request_sha = seq, provider, body, request_sha


@dataclass
class Tape:
    """The exchanges of one job, consumed in order as the engine makes its requests."""

    exchanges: list[Exchange]
    park: bool  # True: capture the first new request; False: send it live
    position: int = 0
    mismatched: bool = field(default=False)

    def next(self, *, provider: str, content: bytes) -> Exchange | None:
        """The recorded answer to this request; None to send it; raise Captured to park it."""
        seq = self.position
        self.position += 1
        sha = request_sha(content)
        if not self.mismatched and seq < len(self.exchanges):
            recorded = self.exchanges[seq]
            if recorded.request_sha == sha:
                return recorded
            # The request changed since it was recorded (a deploy changed the prompt or
            # schema): the rest of the tape answers other questions, so it is not used.
            self.mismatched = True
        if not self.park:
            return None
        raise Captured(seq=seq, provider=provider, body=json.loads(content), request_sha=sha)


def request_sha(content: bytes) -> str:
    """The sha-256 of a request body as the SDK serialised it."""
    return hashlib.sha256(content).hexdigest()


TAPE: ContextVar[Tape | None] = ContextVar("docqueue_tape", default=None)


@contextlib.contextmanager
def playing(tape: Tape | None) -> Iterator[Tape | None]:
    """Run the block's provider calls over `tape` (None: plain realtime calls)."""
    token = TAPE.set(tape)
    try:
        yield tape
    finally:
        TAPE.reset(token)


class ReplayTransport(httpx2.BaseTransport):
    """The SDKs' transport: answers replayed requests from the tape, sends the rest."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """A recorded answer when the request hook found one, else the real call."""
        recorded = request.extensions.get(REPLAY)
        if isinstance(recorded, Exchange):
            return httpx2.Response(recorded.status, json=recorded.body or {}, request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        """Close the real transport's pool."""
        self.inner.close()


class FreePorts:
    """No slot, bucket, breaker or hold for a parked request: the batch lane has its own.

    A captured request leaves no call behind (its hold is taken by the park at the batch
    price), and a replayed one was billed when its result was ingested.
    """

    @contextlib.contextmanager
    def slot(self, *, key: str, cap: int) -> Iterator[None]:
        """No slot: nothing is sent."""
        yield

    def take(self, *, key: str, tokens: int, per_minute: int) -> None:
        """No bucket."""

    def correct(self, *, key: str, estimated: int, actual: int, per_minute: int) -> None:
        """No bucket."""

    def allow(self, *, model: str) -> bool:
        """Always: a batch answer says nothing about the realtime endpoint's health."""
        return True

    def record(self, *, model: str, ok: bool) -> None:
        """Nothing to record."""

    def reserve(self, amount_usd: Decimal) -> FreePorts:
        """No hold: the park reserves at the batch price."""
        return self

    def settle(self, actual_usd: Decimal) -> None:
        """Nothing held."""
