"""What became of every input of one ingest: sent, a duplicate of an earlier path, skipped.

One entry per input path (and per row of a list), in input order. The counts of the
summary are counted from these entries, never from whole batches: a batch this ingest
shares with others holds their documents too. An entry is small (a million of them are
held at once): the job's status and where its results line is parked sit on the entry
of the key's first path, and usage is summed as the lines come, never kept per job.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from scripts.client import ApiClientError

SENT, DUPLICATE, SKIPPED, SENT_BEFORE = "sent", "duplicate", "skipped", "sent_before"
MISSING = "missing"  # a sent key no batch answered for (its job is outside any batch)
SHOWN_SKIPS = 20


@dataclass(slots=True)
class Entry:
    """One input: `state` is sent, duplicate (of `duplicate_of`), skipped or sent_before.

    `status` (the job's) and `at` (its results line in the spool) are set on the first
    path of a key only; its duplicates read them there.
    """

    path: str
    key: str | None
    state: str
    duplicate_of: str | None = None
    reason: str | None = None
    status: str | None = None
    at: int | None = None


@dataclass(slots=True)
class Usage:
    """Tokens and cost of some jobs, each counted once."""

    jobs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)

    def add(self, usage: Any) -> None:
        """Count one results line's `usage`."""
        usage = usage if isinstance(usage, Mapping) else {}
        self.jobs += 1
        self.input_tokens += int(usage.get("input_tokens") or 0)
        self.output_tokens += int(usage.get("output_tokens") or 0)
        # an unreadable cost counts as none rather than ending the ingest
        with contextlib.suppress(InvalidOperation):
            self.cost_usd += Decimal(str(usage.get("cost_usd") or 0))


class Ledger:
    """Every entry of one ingest, and what the server said of the documents sent."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.first: dict[str, Entry] = {}  # key -> the entry of the first path that had it
        self.batch_id: str | None = None
        self.earlier: dict[str, None] = {}  # other batches holding keys of ours, in order
        self.created = 0
        self.known = 0  # documents sent that already had a job (here or elsewhere)
        self.duplicates = 0
        self.skipped = 0
        self.before = 0  # unique keys whose job sits in an earlier batch (once located)
        self.this_batch = Usage()
        self.earlier_batches = Usage()
        self._total: int | None = None  # the batch's total as the last answer gave it

    def skip(self, path: str, reason: str) -> None:
        """An input that is not sent."""
        self.entries.append(Entry(path, None, SKIPPED, reason=reason))
        self.skipped += 1

    def offer(self, path: str, key: str) -> bool:
        """An input with a document: True if it is to be sent, False for a duplicate."""
        first = self.first.get(key)
        if first is not None:
            self.entries.append(Entry(path, first.key, DUPLICATE, duplicate_of=first.path))
            self.duplicates += 1
            return False
        entry = Entry(path, key, SENT)
        self.first[key] = entry
        self.entries.append(entry)
        return True

    def answered(self, answer: Mapping[str, Any]) -> None:
        """Count one POST /v1/batches answer (every one of an ingest names the same batch).

        New jobs are counted from the batch's `total`, which grows by exactly the jobs
        each request made, even when the client re-sent a request whose answer was lost
        (the replay's own `created` is 0). The first request has no total before it: its
        `created` is taken as said.
        """
        batch_id = str(answer["id"])
        if self.batch_id is not None and batch_id != self.batch_id:
            raise ApiClientError(
                f"the API answered batch {batch_id} after batch {self.batch_id} for one "
                "Idempotency-Key: nothing more is sent (re-run to resume)"
            )
        created = int(answer.get("created", 0))
        total = answer.get("total")
        if isinstance(total, int):
            if self._total is not None:
                created = max(created, total - self._total)
            self._total = total
        self.batch_id = batch_id
        self.created += created
        self.known += int(answer.get("duplicates", 0))
        for other in answer.get("duplicate_batches") or ():
            if str(other) != batch_id:
                self.earlier[str(other)] = None

    def found(self, batch_id: str, row: Mapping[str, Any]) -> Entry | None:
        """Note a results line if it is the job of one of our keys not seen yet."""
        key = row.get("key")
        entry = self.first.get(key) if isinstance(key, str) else None
        if entry is None or entry.status is not None:
            return None
        entry.status = sys.intern(str(row.get("status")))  # a handful of distinct values
        if batch_id == self.batch_id:
            self.this_batch.add(row.get("usage"))
        else:
            entry.state = SENT_BEFORE
            self.before += 1
            self.earlier_batches.add(row.get("usage"))
        return entry

    def status(self, entry: Entry) -> str:
        """An input's status: skipped, its job's (a duplicate's is its first path's), missing."""
        if entry.state == SKIPPED:
            return SKIPPED
        first = self.first.get(entry.key or "")
        return (first.status if first is not None else None) or MISSING

    def facts(self) -> dict[str, Any]:
        """The summary's account of the inputs."""
        sent = len(self.first)
        facts: dict[str, Any] = {
            "inputs found": len(self.entries),
            "documents sent": sent,
            "new jobs": self.created,
        }
        resumed = sent - self.created - self.before
        if resumed > 0:
            # Not called "resumed": a first request whose answer was lost and replayed says
            # 0 created for jobs it made, and no earlier total tells better (`answered`).
            facts["already in this batch"] = resumed
        facts["already processed in earlier batches"] = self.before
        facts["duplicates of other paths here"] = self.duplicates
        facts["skipped"] = self.skipped
        return facts

    def note(self) -> str:
        """The upload bar's running account (in-run duplicates are never "had jobs")."""
        return (
            f"{self.created} new, {self.known} had jobs, "
            f"{self.duplicates} duplicate paths, {self.skipped} skipped"
        )

    def skipped_lines(self, limit: int = SHOWN_SKIPS) -> list[str]:
        """`path: reason` for the first skipped inputs, then how many more."""
        skipped = [e for e in self.entries if e.state == SKIPPED]
        lines = [f"  {e.path}: {e.reason}" for e in skipped[:limit]]
        if len(skipped) > limit:
            lines.append(f"  and {len(skipped) - limit} more; see --out")
        return lines

    def per_input(self) -> Counter[str]:
        """Each input's status (a duplicate counts its shared job's), `skipped` for skipped."""
        return Counter(self.status(e) for e in self.entries)
