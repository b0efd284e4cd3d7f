"""A value printed in a document, read as the JSON value a leaf schema asks for."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

from dateutil import parser as date_parser

# Numbers as invoices print them: 1,234.56 / 1.234,56 / 1'234.56 / 12,50 / -3.
_NUMBER_RE = re.compile(r"[-+]?\d(?:[\d,.']*\d)?%?")
# Date shapes read on purpose: dateutil alone turns "Net 30" into this month's 30th.
_DATE_RES = (
    re.compile(r"\d{4}-\d{1,2}-\d{1,2}"),
    re.compile(r"\d{1,2}[./]\d{1,2}[./]\d{2,4}"),
    re.compile(r"\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}"),
    re.compile(r"[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"),
)
_TRUE = frozenset({"yes", "y", "true", "[x]", "x", "✓", "✔", "checked", "on"})
_FALSE = frozenset({"no", "n", "false", "[]", "unchecked", "off", "none"})

Resolve = Callable[[Any], dict[str, Any]]
Valid = Callable[[Any], bool]


def parse_number(text: str) -> float | None:
    """The last figure in `text` that is not a percentage (else the last percentage)."""
    plain: list[float] = []
    percent: list[float] = []
    for match in _NUMBER_RE.finditer(text):
        token = match.group()
        value = _figure(token.rstrip("%"))
        if value is not None:
            (percent if token.endswith("%") else plain).append(value)
    found = plain or percent
    return found[-1] if found else None


def _figure(token: str) -> float | None:
    digits = token.replace("'", "")
    if "," in digits and "." in digits:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
        digits = digits.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in digits:
        thousands = re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+", digits)
        digits = digits.replace(",", "" if thousands else ".")
    elif re.fullmatch(r"[-+]?\d{1,3}(?:\.\d{3}){2,}", digits):
        digits = digits.replace(".", "")
    try:
        return float(digits)
    except ValueError:
        return None


def parse_date(text: str) -> str | None:
    """The first date written in `text`, as YYYY-MM-DD."""
    for pattern in _DATE_RES:
        match = pattern.search(text)
        if match is None:
            continue
        try:
            day = date_parser.parse(match.group(), dayfirst="." in match.group())
        except (ValueError, OverflowError):
            continue
        return str(day.date().isoformat())
    return None


def parse_bool(text: str) -> bool | None:
    """Yes/no, true/false and ticked or empty boxes; None for anything else."""
    word = re.sub(r"\s+", "", text.strip().lower()).rstrip(".")
    if word in _TRUE:
        return True
    return False if word in _FALSE else None


def _branches(s: dict[str, Any], resolve: Resolve) -> Iterator[dict[str, Any]]:
    """The non-null shapes a leaf may take, keywords beside anyOf carried into each."""
    options = s.get("anyOf") or s.get("oneOf")
    if not options:
        yield s
        return
    siblings = {k: v for k, v in s.items() if k not in ("anyOf", "oneOf")}
    for option in options:
        branch = {**siblings, **resolve(option)}
        if branch.get("type") != "null":
            yield from _branches(branch, resolve)


def _kinds(s: dict[str, Any]) -> list[str]:
    kind = s.get("type")
    if isinstance(kind, list):
        return [k for k in kind if k != "null"]
    if isinstance(kind, str):
        return [kind]
    return ["string"]


def _one(s: dict[str, Any], kind: str, text: str) -> Any:
    """`text` as one type of one branch; None when it does not read as that."""
    if "enum" in s or "const" in s:
        members = list(s["enum"]) if "enum" in s else [s["const"]]
        wanted = text.strip().rstrip(".").lower()
        return next((m for m in members if m is not None and str(m).lower() == wanted), None)
    if kind in ("number", "integer"):
        number = parse_number(text)
        if number is None or (kind == "integer" and not number.is_integer()):
            return None
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return parse_bool(text)
    if kind != "string":
        return None
    if s.get("format") == "date":
        return parse_date(text)
    if s.get("format") in ("date-time", "time"):
        return None  # a timestamp's zone is never printed: reading one would invent it
    return text.strip() or None


def coerce(leaf: dict[str, Any], text: str, resolve: Resolve, valid: Valid) -> tuple[bool, Any]:
    """(True, value) if `text` reads as a value the leaf schema accepts, else (False, None)."""
    for branch in _branches(resolve(leaf), resolve):
        for kind in _kinds(branch):
            value = _one(branch, kind, text)
            if value is not None and valid(value):
                return True, value
    return False, None


def allows_null(leaf: dict[str, Any], resolve: Resolve) -> bool:
    """Whether a (sub)schema accepts null."""
    s = resolve(leaf)
    kind = s.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if None in (s.get("enum") or []) or ("const" in s and s["const"] is None):
        return True
    return any(allows_null(o, resolve) for o in s.get("anyOf") or s.get("oneOf") or [])


def is_iso_date(value: Any) -> bool:
    """Whether a JSON value is a YYYY-MM-DD date string."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def document_numbers(text: str) -> set[float]:
    """Every figure printed in `text` (percentages included)."""
    found = (_figure(m.group().rstrip("%")) for m in _NUMBER_RE.finditer(text))
    return {n for n in found if n is not None}


def document_dates(text: str) -> set[str]:
    """Every date written in `text`, as YYYY-MM-DD, whatever its printed shape."""
    out: set[str] = set()
    for pattern in _DATE_RES:
        for match in pattern.finditer(text):
            day = parse_date(match.group())
            if day is not None:
                out.add(day)
    return out
