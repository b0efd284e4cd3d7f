"""`docqueue estimate` merges the answers of several requests into one."""

from __future__ import annotations

from typing import Any

from scripts.commands.estimate import duration, merge


def _lane(lane: str, documents: int, cost: str, eta: float | None) -> dict[str, Any]:
    return {
        "lane": lane,
        "documents": documents,
        "calls": documents,
        "reask_calls": 1,
        "input_tokens": 100 * documents,
        "output_tokens": 10 * documents,
        "cost_usd": cost,
        "eta_s": eta,
        "eta_basis": "b",
    }


def _answer(documents: int, cost: str, rt_eta: float, batch_eta: float | None) -> dict[str, Any]:
    return {
        "schema": "invoice@1",
        "lane": "realtime",
        "documents": [{"index": i} for i in range(documents)],
        "lanes": {
            "realtime": _lane("realtime", documents, cost, rt_eta),
            "batch": _lane("batch", 0, "0", batch_eta),
        },
    }


def test_counts_tokens_and_costs_add_up_exactly_across_requests() -> None:
    merged = merge([_answer(2, "0.100001", 3.0, None), _answer(3, "0.200002", 4.0, None)])
    realtime = merged["lanes"]["realtime"]
    assert (realtime["documents"], realtime["input_tokens"], realtime["reask_calls"]) == (5, 500, 2)
    assert realtime["cost_usd"] == "0.300003"
    assert len(merged["documents"]) == 5


def test_realtime_etas_add_up_and_the_batch_eta_is_the_longest() -> None:
    merged = merge([_answer(1, "0", 3.0, 86400.0), _answer(1, "0", 4.0, 3600.0)])
    assert merged["lanes"]["realtime"]["eta_s"] == 7.0
    assert merged["lanes"]["batch"]["eta_s"] == 86400.0


def test_a_lane_without_an_eta_stays_without_one() -> None:
    assert merge([_answer(1, "0", 3.0, None)])["lanes"]["batch"]["eta_s"] is None


def test_durations_read_as_seconds_minutes_or_hours() -> None:
    assert [duration(s) for s in (None, 45, 720, 86400)] == ["-", "45 s", "12 min", "24.0 h"]
