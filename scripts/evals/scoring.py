"""Score one labelled value against one extracted value, by the rule its schema calls for.

Every score is in [0, 1]: 1 or 0 for the scalar rules, an F1 for lists. A null label means
"the document has no such value": it scores 1 when the extraction is null or absent too.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dateutil import parser as dateparser

from scripts.evals.schema_rules import (
    DATE,
    EXACT,
    NUMBER,
    SET_F1,
    STRING,
    SchemaView,
    kind,
    rule_of,
)


class _Missing:
    """An extracted value the result does not have at all (unlike a null one)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
FLOAT_SLACK = 1e-9  # 0.1 + 0.2 is not 0.3 in binary: a tolerance edge must not hinge on that
NUMBER_DIGITS = 9  # numbers inside list items are compared rounded to this many decimals
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")  # 1,234,567.89
# Missing date parts are filled from a fixed day, not today, so a score never changes by date.
_DATE_DEFAULT = dt.datetime(2000, 1, 1)


@dataclass(frozen=True)
class Tolerance:
    """How far apart two numbers may be and still agree: either bound suffices."""

    absolute: float = 0.01
    relative: float = 0.0


def absent(value: Any) -> bool:
    """Whether an extracted value says "nothing": missing or null."""
    return value is MISSING or value is None


def normal_text(value: Any) -> str:
    """Text compared loosely: Unicode NFKC, case folded, runs of whitespace made one space."""
    text = value if isinstance(value, str) else plain_text(value)
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def plain_text(value: Any) -> str:
    """A non-string value as the text a labeller would type (42, true, 12.5)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_number(value: Any) -> float | None:
    """A number, or numeric text ("12.50", " 1,234.5 "); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _GROUPED.fullmatch(text):
            text = text.replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_bool(value: Any) -> bool | None:
    """A boolean, or the text "true"/"false" in any case; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().casefold() in ("true", "false"):
        return value.strip().casefold() == "true"
    return None


def as_when(value: Any, *, with_time: bool) -> dt.date | dt.datetime | None:
    """A date (or, `with_time`, a UTC date-time) parsed by dateutil; None if unparsable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dateparser.parse(value, default=_DATE_DEFAULT)
    except (ValueError, OverflowError, TypeError):
        return None
    if not isinstance(parsed, dt.datetime):
        return None
    if not with_time:
        return parsed.date()  # the day as written, whatever its zone
    # A time without a zone is taken as UTC, so it compares with one that has a zone.
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC)


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), booleans never equal to numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def score_exact(label: Any, predicted: Any, json_type: str | None = None) -> float:
    """1 if equal: integers and booleans given as text count as their value."""
    if json_type == "integer":
        a, b = as_number(label), as_number(predicted)
        if a is not None and b is not None:
            return float(a == b)
    if json_type == "boolean":
        x, y = as_bool(label), as_bool(predicted)
        if x is not None and y is not None:
            return float(x == y)
    return float(same_json(label, predicted))


def score_string(label: Any, predicted: Any) -> float:
    """1 if the two texts are equal once normalised (see `normal_text`)."""
    return float(normal_text(label) == normal_text(predicted))


def score_number(label: Any, predicted: Any, tol: Tolerance) -> float:
    """1 if within the absolute or the relative tolerance; text that is no number: as text."""
    a, b = as_number(label), as_number(predicted)
    if a is None or b is None:
        return score_string(label, predicted) if a is None and b is None else 0.0
    close = math.isclose(a, b, rel_tol=tol.relative, abs_tol=tol.absolute + FLOAT_SLACK)
    return float(close)


def score_date(label: Any, predicted: Any, *, with_time: bool = False) -> float:
    """1 if both parse to the same day (or instant); unparsable ones compare as text."""
    a, b = as_when(label, with_time=with_time), as_when(predicted, with_time=with_time)
    if a is None or b is None:
        return score_string(label, predicted) if a is None and b is None else 0.0
    return float(a == b)


def set_f1(labelled: Iterable[str], extracted: Iterable[str]) -> float:
    """The F1 of two sets: both empty is a perfect 1, one empty a 0."""
    want, got = set(labelled), set(extracted)
    if not want and not got:
        return 1.0
    hits = len(want & got)
    if not hits:
        return 0.0
    precision, recall = hits / len(got), hits / len(want)
    return 2 * precision * recall / (precision + recall)


class Scorer:
    """Scores values under one extractor's schema with one numeric tolerance."""

    def __init__(self, view: SchemaView, tol: Tolerance | None = None) -> None:
        self.view, self.tol = view, tol or Tolerance()

    def score(self, node: Mapping[str, Any], label: Any, predicted: Any) -> tuple[str, float]:
        """(rule, score) of one labelled leaf against the extracted value at the same place."""
        rule = rule_of(node, label)
        if rule == SET_F1:
            return rule, self.list_score(node, label, predicted)
        if label is None:
            return rule, float(absent(predicted))
        if absent(predicted):
            return rule, 0.0
        if rule == NUMBER:
            return rule, score_number(label, predicted, self.tol)
        if rule == DATE:
            return rule, score_date(label, predicted, with_time=node.get("format") == "date-time")
        if rule == STRING:
            return rule, score_string(label, predicted)
        return EXACT, score_exact(label, predicted, kind(node))

    def list_score(self, node: Mapping[str, Any], label: Any, predicted: Any) -> float:
        """Set F1 of normalised items; objects compare by canonical JSON of the labelled keys.

        Null, absent and an empty list all mean "no items"; a lone value is a list of one.
        Extracted objects keep only the keys the labelled items name, so a labeller may
        label some columns of a table.
        """
        labelled, extracted = _items(label), _items(predicted)
        item = self.view.items(node)
        keep: frozenset[str] | None = None
        if kind(item) == "object" or any(isinstance(v, dict) for v in labelled):
            keep = frozenset(k for v in labelled if isinstance(v, dict) for k in v)
        want = {self.member(item, v) for v in labelled}
        got = {self.member(item, v, keep) for v in extracted}
        return set_f1(want, got)

    def member(
        self, node: Mapping[str, Any], value: Any, keep: frozenset[str] | None = None
    ) -> str:
        """One list item as canonical JSON of its normalised value (see `canonical`)."""
        canon = self.canonical(node, value, keep)
        return json.dumps(canon, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def canonical(
        self, node: Mapping[str, Any], value: Any, keep: frozenset[str] | None = None
    ) -> Any:
        """`value` normalised by its schema's rule, so equal values have one form."""
        if value is None:
            return None
        if isinstance(value, dict):
            # a null member and an absent one say the same: neither is kept
            keys = [k for k, v in value.items() if v is not None and (keep is None or k in keep)]
            return {k: self.canonical(self.view.field(node, k), value[k]) for k in keys}
        if isinstance(value, list):
            item = self.view.items(node)
            return sorted({self.member(item, v) for v in value})
        rule = rule_of(node, value)
        if rule == NUMBER or kind(node) == "integer":
            number = as_number(value)
            if number is not None:
                rounded = round(number, NUMBER_DIGITS)
                return int(rounded) if rounded.is_integer() else rounded
        if rule == DATE:
            when = as_when(value, with_time=node.get("format") == "date-time")
            if when is not None:
                return when.isoformat()
        if kind(node) == "boolean" and as_bool(value) is not None:
            return as_bool(value)
        if rule == STRING or (rule in (NUMBER, DATE) and isinstance(value, str)):
            return normal_text(value)
        return value


def _items(value: Any) -> list[Any]:
    if absent(value):
        return []
    return value if isinstance(value, list) else [value]
