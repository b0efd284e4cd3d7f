"""How much to believe one extracted field: a product of its evidence and the run's signals.

    confidence = base * evidence * reask * agreement * ocr * consistency

clamped to [0, 1] and rounded to 4 decimals, where

- base is 0.95 when the field is supported (its quote is found in the document and the
  matched document text states the value), 0.10 when the quote is found but the matched
  text does not state the value, 0.05 when there is no quote or the quote is not found,
  and 0.90 when the value is absent (null or empty: no evidence is expected);
- evidence is 1.0 for an exact match and the fuzzy score / 100 otherwise; it multiplies
  supported fields only;
- reask is 0.85 when the answer needed a re-ask, else 1;
- agreement is 0.5 + 0.5 * (share of chunks whose value equals the final value, after
  normalisation) when at least 2 chunks gave a non-null value for the field, else 1;
- ocr is 0.5 + 0.5 * (mean OCR confidence / 100) of the OCR words overlapping the matched
  text, when there are any, else 1;
- consistency is 0.5 when a second sample disagrees with the value, else 1 (it agrees, or
  there is no second sample).

The signals returned beside the confidence name every factor above ("base", "evidence",
"reask", "agreement", "ocr", "consistency"), plus "value_in_quote" (1 or 0) when a quote
was found; "evidence" is the match score / 100 (0 when no quote was found) and is absent,
like "value_in_quote", for absent values. For a field the model writes rather than copies
(assess's `inferred`), a found quote is support enough and assess drops "value_in_quote":
the value was not looked for in the quote.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ABSENT",
    "DISAGREEMENT",
    "REASK",
    "SUPPORTED",
    "UNLOCATED",
    "VALUE_MISSING",
    "Evidence",
    "confidence",
]

SUPPORTED = 0.95  # quote found and the matched text states the value
VALUE_MISSING = 0.10  # quote found, but the matched text does not state the value
UNLOCATED = 0.05  # no quote, or a quote the document does not contain
ABSENT = 0.90  # null or empty value: nothing to support
REASK = 0.85  # the answer needed a re-ask
AGREEMENT_FLOOR = 0.5  # agreement factor = floor + (1 - floor) * share agreeing
OCR_FLOOR = 0.5  # ocr factor = floor + (1 - floor) * mean word confidence / 100
DISAGREEMENT = 0.5  # a second sample gave another value
DECIMALS = 4

Evidence = Literal["supported", "value_missing", "unlocated", "absent"]
_BASE: dict[Evidence, float] = {
    "supported": SUPPORTED,
    "value_missing": VALUE_MISSING,
    "unlocated": UNLOCATED,
    "absent": ABSENT,
}


def confidence(
    *,
    evidence: Evidence,
    score: float | None = None,
    reasked: bool = False,
    agreement: float | None = None,
    ocr: float | None = None,
    consistent: bool | None = None,
) -> tuple[float, dict[str, float]]:
    """The field's confidence and its signals (see the module docstring for the formula).

    `score` is the match score 0-100 (None when no quote was found); `agreement` the share
    of chunks agreeing, None when fewer than 2 chunks gave a value; `ocr` the mean OCR
    confidence 0-100 of the words under the match, None when there are none; `consistent`
    whether a second sample agrees, None when there is none.
    """
    signals: dict[str, float] = {"base": _BASE[evidence]}
    value = signals["base"]
    if evidence != "absent":
        signals["evidence"] = (score or 0.0) / 100
        if evidence == "supported":
            value *= signals["evidence"]
        if score is not None:
            signals["value_in_quote"] = 1.0 if evidence == "supported" else 0.0
    factors = {
        "reask": REASK if reasked else 1.0,
        "agreement": 1.0 if agreement is None else _floor(AGREEMENT_FLOOR, agreement),
        "ocr": 1.0 if ocr is None else _floor(OCR_FLOOR, ocr / 100),
        "consistency": DISAGREEMENT if consistent is False else 1.0,
    }
    for name, factor in factors.items():
        signals[name] = round(factor, DECIMALS)
        value *= factor
    return round(min(1.0, max(0.0, value)), DECIMALS), signals


def _floor(floor: float, share: float) -> float:
    return floor + (1 - floor) * min(1.0, max(0.0, share))
