"""Plain functions behind the console's pages: progress, ETA, document segments, timelines."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from schemas.api import JobOut
from schemas.batch_api import BatchOut
from schemas.trust.fields import FieldOut
from storage.models import LlmCall
from storage.trust_models import JobReview

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
REVIEW_STATES = ("pending", "approved", "corrected", "not_needed")


def done(batch: BatchOut) -> int:
    """The batch's jobs that reached a terminal state."""
    return batch.total - batch.counts.get("queued", 0) - batch.counts.get("running", 0)


def eta(batch: BatchOut, now: dt.datetime) -> str:
    """Time left at the pace so far ('' once finished or before the first job ends)."""
    finished = done(batch)
    if batch.finished_at or batch.cancelled_at or finished == 0 or finished >= batch.total:
        return ""
    elapsed = (now - batch.created_at).total_seconds()
    left = elapsed / finished * (batch.total - finished)
    if left < 60:
        return f"{left:.0f} s"
    return f"{left / 60:.0f} min" if left < 3600 else f"{left / 3600:.1f} h"


@dataclass(frozen=True)
class Piece:
    """A run of document text; `field`: the index of the field whose evidence it is."""

    text: str
    field: int | None = None
    anchor: bool = False  # the first piece of that evidence: the field's link lands here


@dataclass(frozen=True)
class Page:
    """One page of a document (PDF pages are split at form feeds)."""

    number: int
    pieces: list[Piece]


def _spans(text: str, fields: Sequence[FieldOut]) -> list[tuple[int, int, int]]:
    spans = sorted(
        (f.start, f.end, i)
        for i, f in enumerate(fields)
        if f.start is not None and f.end is not None and 0 <= f.start < f.end <= len(text)
    )
    kept: list[tuple[int, int, int]] = []
    for start, end, index in spans:  # overlapping evidence: the earlier span is shown
        if not kept or start >= kept[-1][1]:
            kept.append((start, end, index))
    return kept


def pages(text: str, fields: Sequence[FieldOut]) -> list[Page]:
    """The text as pages of pieces, each field's evidence span marked (never as markup)."""
    spans = _spans(text, fields)
    cuts = {0, len(text)}
    for start, end, _ in spans:
        cuts.update((start, end))
    for found in re.finditer("\f", text):
        cuts.update((found.start(), found.end()))
    out: list[Page] = [Page(1, [])]
    k = 0  # the first span that does not end before the piece
    for lo, hi in pairwise(sorted(cuts)):
        if text[lo:hi] == "\f":
            out.append(Page(len(out) + 1, []))
            continue
        while k < len(spans) and spans[k][1] <= lo:
            k += 1
        inside = k < len(spans) and spans[k][0] <= lo
        field = spans[k][2] if inside else None
        out[-1].pieces.append(Piece(text[lo:hi], field, inside and lo == spans[k][0]))
    return out


@dataclass(frozen=True)
class Event:
    """One line of a job's timeline."""

    at: dt.datetime
    what: str


def timeline(job: JobOut, calls: Sequence[LlmCall], reviews: Sequence[JobReview]) -> list[Event]:
    """The job's status changes, calls and reviews, oldest first."""
    events = [Event(job.created_at, "queued")]
    if job.started_at:
        events.append(Event(job.started_at, f"running (attempt {job.attempts} is the last)"))
    for call in calls:
        what = f"attempt {call.attempt}, call {call.seq}: {call.model} answered {call.outcome}"
        events.append(Event(call.created_at, what))
    if job.finished_at:
        why = f": {job.error.type}" if job.error else ""
        events.append(Event(job.finished_at, f"{job.status}{why}"))
    for review in reviews:
        events.append(Event(review.created_at, f"review: {review.action} by {review.reviewer}"))
    return sorted(events, key=lambda e: e.at)
