"""The in-flight row's steady-state mean: from the first sample at the cap to the last."""

from __future__ import annotations

from scripts.bench.inflight import steady_mean


def test_the_ramp_up_and_the_tail_are_left_out_of_the_mean() -> None:
    samples = [[0.0, 1], [0.05, 5], [0.1, 20], [0.15, 20], [0.2, 20], [0.25, 3], [0.3, 0]]
    assert steady_mean(samples, 20) == 20


def test_a_slot_left_idle_inside_the_steady_part_pulls_the_mean_down() -> None:
    samples = [[0.0, 20], [0.05, 18], [0.1, 19], [0.15, 20]]
    assert steady_mean(samples, 20) == 19.25


def test_a_run_that_never_reaches_the_cap_scores_below_half_of_its_peak() -> None:
    assert steady_mean([[0.0, 4], [0.05, 6]], 20) == 3
