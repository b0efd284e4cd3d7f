"""Accounting by input path: sent, duplicates of earlier paths, skipped, sent before."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from scripts.client import ApiClientError
from scripts.ingest.accounting import DUPLICATE, SENT, SENT_BEFORE, SKIPPED, Ledger


def _ledger() -> Ledger:
    ledger = Ledger()
    assert ledger.offer("a.txt", "k1")
    assert ledger.offer("b.txt", "k2")
    assert not ledger.offer("copy-of-a.txt", "k1")
    assert not ledger.offer("another-a.txt", "k1")
    ledger.skip(".DS_Store", "unknown type (no extension): not text, PDF or DOCX")
    assert ledger.offer("old.txt", "k3")
    ledger.answered({"id": "B", "created": 2, "duplicates": 1, "duplicate_batches": ["OLD"]})
    return ledger


def _line(key: str, status: str = "succeeded", cost: str = "0.01") -> dict[str, Any]:
    usage = {"input_tokens": 10, "output_tokens": 5, "cost_usd": cost}
    return {"key": key, "status": status, "usage": usage}


def test_every_input_has_one_entry_in_input_order() -> None:
    ledger = _ledger()
    assert [(e.path, e.state, e.duplicate_of) for e in ledger.entries] == [
        ("a.txt", SENT, None),
        ("b.txt", SENT, None),
        ("copy-of-a.txt", DUPLICATE, "a.txt"),
        ("another-a.txt", DUPLICATE, "a.txt"),
        (".DS_Store", SKIPPED, None),
        ("old.txt", SENT, None),
    ]
    assert ledger.batch_id == "B"
    assert list(ledger.earlier) == ["OLD"]


def test_keys_found_in_another_batch_are_sent_before_and_counted_apart() -> None:
    ledger = _ledger()
    assert ledger.found("B", _line("k1")) is ledger.entries[0]
    assert ledger.found("B", _line("k2", "failed", "0")) is ledger.entries[1]
    assert ledger.found("OLD", _line("k3", cost="0.5")) is ledger.entries[-1]
    assert ledger.found("OLD", _line("someone-elses")) is None
    assert ledger.found("B", _line("k1")) is None  # a job is counted once
    assert ledger.entries[-1].state == SENT_BEFORE
    assert ledger.facts() == {
        "inputs found": 6,
        "documents sent": 3,
        "new jobs": 2,
        "already processed in earlier batches": 1,
        "duplicates of other paths here": 2,
        "skipped": 1,
    }
    # Per input: the two copies of a.txt count as its job did.
    assert ledger.per_input() == {"succeeded": 4, "failed": 1, "skipped": 1}


def test_the_cost_of_this_batch_and_of_earlier_batches_are_summed_apart() -> None:
    ledger = _ledger()
    ledger.found("B", _line("k1", cost="0.01"))
    ledger.found("B", _line("k2", cost="0.02"))
    ledger.found("OLD", _line("k3", cost="0.5"))
    this, before = ledger.this_batch, ledger.earlier_batches
    assert (this.jobs, this.input_tokens, this.output_tokens) == (2, 20, 10)
    assert this.cost_usd == Decimal("0.03")  # not 0.53: k3 was paid for before
    assert (before.jobs, before.cost_usd) == (1, Decimal("0.5"))


def test_a_resumed_run_counts_documents_already_in_its_own_batch() -> None:
    ledger = Ledger()
    for i in range(3):
        ledger.offer(f"{i}.txt", f"k{i}")
    ledger.answered({"id": "B", "created": 1, "duplicates": 2, "duplicate_batches": []})
    facts = ledger.facts()
    assert facts["already in this batch"] == 2
    assert facts["already processed in earlier batches"] == 0


def test_a_replayed_request_counts_the_jobs_its_lost_answer_made_as_new() -> None:
    ledger = Ledger()
    for i in range(6):
        ledger.offer(f"{i}.txt", f"k{i}")
    ledger.answered({"id": "B", "total": 3, "created": 3, "duplicates": 0})
    # The second request made 3 jobs, its answer was lost, and the re-send found them.
    ledger.answered({"id": "B", "total": 6, "created": 0, "duplicates": 3})
    assert ledger.created == 6
    assert "already in this batch" not in ledger.facts()


def test_an_answer_naming_another_batch_stops_the_ingest() -> None:
    ledger = Ledger()
    ledger.answered({"id": "B", "created": 1})
    with pytest.raises(ApiClientError, match="answered batch C after batch B"):
        ledger.answered({"id": "C", "created": 1})
    assert ledger.batch_id == "B"


def test_the_upload_note_says_had_jobs_not_already_sent_for_server_duplicates() -> None:
    assert _ledger().note() == "2 new, 1 had jobs, 2 duplicate paths, 1 skipped"


def test_skipped_paths_are_listed_up_to_a_limit_then_counted() -> None:
    ledger = Ledger()
    for i in range(23):
        ledger.skip(f"junk-{i}", "empty file")
    lines = ledger.skipped_lines(limit=20)
    assert lines[0] == "  junk-0: empty file"
    assert len(lines) == 21
    assert lines[-1] == "  and 3 more; see --out"
    assert ledger.per_input() == {"skipped": 23}
