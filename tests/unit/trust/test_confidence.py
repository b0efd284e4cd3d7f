"""The confidence formula gives the documented value at each branch and for each factor."""

from __future__ import annotations

import pytest

from tasks.trust import confidence as formula
from tasks.trust.confidence import confidence


def test_an_exactly_supported_field_scores_the_supported_base() -> None:
    value, signals = confidence(evidence="supported", score=100.0)
    assert value == formula.SUPPORTED == 0.95
    assert signals == {
        "base": 0.95,
        "evidence": 1.0,
        "value_in_quote": 1.0,
        "reask": 1.0,
        "agreement": 1.0,
        "ocr": 1.0,
        "consistency": 1.0,
    }


def test_a_fuzzily_supported_field_scales_by_the_match_score() -> None:
    value, signals = confidence(evidence="supported", score=90.0)
    assert value == round(0.95 * 0.90, 4)
    assert signals["evidence"] == 0.9


def test_a_located_quote_without_the_value_scores_the_value_missing_base() -> None:
    value, signals = confidence(evidence="value_missing", score=92.0)
    assert value == 0.10
    assert signals["value_in_quote"] == 0.0
    assert signals["evidence"] == 0.92  # reported, but only supported fields multiply it


def test_a_missing_or_unlocated_quote_scores_the_unlocated_base() -> None:
    value, signals = confidence(evidence="unlocated")
    assert value == 0.05
    assert signals["evidence"] == 0.0
    assert "value_in_quote" not in signals


def test_an_absent_value_scores_the_absent_base_without_evidence_signals() -> None:
    value, signals = confidence(evidence="absent")
    assert value == 0.90
    assert "evidence" not in signals
    assert "value_in_quote" not in signals


def test_a_reask_multiplies_by_the_reask_factor() -> None:
    value, signals = confidence(evidence="supported", score=100.0, reasked=True)
    assert value == round(0.95 * 0.85, 4)
    assert signals["reask"] == 0.85


@pytest.mark.parametrize(
    ("share", "factor"), [(1.0, 1.0), (0.5, 0.75), (0.0, 0.5), (2 / 3, 0.8333)]
)
def test_chunk_agreement_multiplies_by_half_plus_half_the_share(
    share: float, factor: float
) -> None:
    value, signals = confidence(evidence="supported", score=100.0, agreement=share)
    assert signals["agreement"] == factor
    assert value == round(0.95 * (0.5 + 0.5 * share), 4)


def test_ocr_confidence_multiplies_by_half_plus_half_the_mean() -> None:
    value, signals = confidence(evidence="supported", score=100.0, ocr=80.0)
    assert signals["ocr"] == 0.9
    assert value == round(0.95 * 0.9, 4)


@pytest.mark.parametrize(("consistent", "factor"), [(True, 1.0), (None, 1.0), (False, 0.5)])
def test_a_disagreeing_second_sample_halves_the_confidence(
    consistent: bool | None, factor: float
) -> None:
    value, signals = confidence(evidence="supported", score=100.0, consistent=consistent)
    assert signals["consistency"] == factor
    assert value == round(0.95 * factor, 4)


def test_all_factors_multiply_together_and_round_to_four_decimals() -> None:
    value, _ = confidence(
        evidence="supported", score=93.0, reasked=True, agreement=0.5, ocr=70.0, consistent=False
    )
    assert value == round(0.95 * 0.93 * 0.85 * 0.75 * 0.85 * 0.5, 4)


def test_factors_apply_to_absent_values_too() -> None:
    value, _ = confidence(evidence="absent", reasked=True, consistent=False)
    assert value == round(0.90 * 0.85 * 0.5, 4)


def test_out_of_range_inputs_are_clamped_into_zero_to_one() -> None:
    high, _ = confidence(evidence="supported", score=250.0)
    low, _ = confidence(evidence="supported", score=100.0, agreement=-3.0, ocr=-50.0)
    assert high == 1.0
    assert low == round(0.95 * 0.5 * 0.5, 4)
