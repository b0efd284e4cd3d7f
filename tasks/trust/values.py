"""Reading values the way documents write them: numbers, dates, booleans, plain text."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from dateutil import parser as dateparser

from tasks.trust.normalise import fold

__all__ = [
    "bool_in",
    "canonical",
    "close",
    "currency_in",
    "dates_in",
    "is_empty",
    "iso_date",
    "number",
    "numbers_in",
]

# A number as written in a document: digits with thousands or decimal separators.
_NUMBER_RUN = re.compile(r"\d(?:[\d.,' ]*\d)?")
_SPACE_GROUPED = re.compile(r"\d{1,3}(?: \d{3})+(?:[.,]\d+)?")
# A whole value that is a number (a phone number or an id with spaces is not).
_NUMBER_VALUE = re.compile(r"[+-]?\(?(?:\d{1,3}(?:[ ,.']\d{3})+|\d+)(?:[.,]\d+)?\)?-?")
# Common ISO 4217 codes only: any three letters would turn "INV 001" into a number.
_CODES = (
    "USD|EUR|GBP|CHF|JPY|CNY|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|RON|BGN|INR|BRL|MXN|ZAR"
    "|SGD|HKD|KRW|AED|SAR|ILS|TRY"
)
_CURRENCY_CODE = re.compile(rf"^(?:{_CODES})(?=[\s\d])|(?<=[\d\s])(?:{_CODES})$", re.IGNORECASE)
# Currency symbols (folded) and the codes they write, for a currency field quoted by its
# symbol. Hand-rolled: Babel is not installed, and its CLDR data maps a code to a symbol per
# locale, not a symbol back to codes; no small, well-kept package does.
_SYMBOLS: dict[str, frozenset[str]] = {
    sym: frozenset(codes.split())
    for sym, codes in {
        "\u20ac": "EUR",
        "\u00a3": "GBP",
        "\u00a5": "JPY CNY",  # yen and yuan share the sign (full-width \uffe5 folds to it)
        "\u20b9": "INR",
        "\u20a9": "KRW",
        "\u20ba": "TRY",
        "\u20aa": "ILS",
        "\u20b1": "PHP",
        "\u0e3f": "THB",
        "\u20ab": "VND",
        "\u20bd": "RUB",
        "$": "USD",  # a bare dollar is the US dollar; the others are written with a prefix
        "us$": "USD",
        "c$": "CAD",
        "ca$": "CAD",
        "a$": "AUD",
        "au$": "AUD",
        "nz$": "NZD",
        "hk$": "HKD",
        "s$": "SGD",
        "r$": "BRL",
        "mx$": "MXN",
    }.items()
}
_SYMBOL = re.compile(
    r"(?<![^\W\d_])(?:" + "|".join(map(re.escape, sorted(_SYMBOLS, key=len, reverse=True))) + ")"
)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_ORD = r"(?:st|nd|rd|th)?"
_DATE_CANDIDATES = re.compile(
    rf"(?<!\d)\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{1,4}}(?!\d)"
    rf"|(?<!\d)\d{{1,2}}{_ORD}(?:[ -]| of ){_MONTH},?[ -]\d{{2,4}}(?!\d)"
    rf"|(?<![a-z]){_MONTH}[ -]\d{{1,2}}{_ORD},?[ -]\d{{2,4}}(?!\d)"
)
_YEAR_FIRST = re.compile(r"\d{4}[./-]")
_TRUE = re.compile(
    r"(?<![a-z0-9])(?:yes|true|y)(?![a-z0-9])|\[x\]|\(x\)|[\u2612\u2611\u2713\u2714\u2705]"
)
_FALSE = re.compile(r"(?<![a-z0-9])(?:no|false|n)(?![a-z0-9])|\[ ?\]|\( ?\)|\u2610")


def is_empty(value: Any) -> bool:
    """Whether a value counts as absent: null, blank text, an empty list or object."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | dict) and not value


def _readings(run: str) -> set[Decimal]:
    """Every number a run without spaces can mean ("1,234" is 1234 or 1.234)."""
    run = run.replace("'", "")  # Swiss 1'234.56
    if "." in run and "," in run:
        decimal_sep = "." if run.rfind(".") > run.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        candidates = [run.replace(thousands, "").replace(decimal_sep, ".")]
    elif "." in run or "," in run:
        sep = "." if "." in run else ","
        head, _, tail = run.rpartition(sep)
        candidates = [run.replace(sep, "")]  # thousands only
        if run.count(sep) == 1 and len(tail) != 3:
            candidates = [f"{head}.{tail}"]
        elif run.count(sep) == 1:
            candidates.append(f"{head}.{tail}")
    else:
        candidates = [run]
    out: set[Decimal] = set()
    for candidate in candidates:
        try:
            out.add(Decimal(candidate))
        except InvalidOperation:
            continue
    return out


def numbers_in(span: str) -> set[Decimal]:
    """Every number the text may state, under each plausible separator convention."""
    out: set[Decimal] = set()
    for match in _NUMBER_RUN.finditer(fold(span)):
        run = match.group()
        if _SPACE_GROUPED.fullmatch(run):  # French 1 234,56
            out |= _readings(run.replace(" ", ""))
        for part in run.split(" "):
            out |= _readings(part.strip(".,'"))
    return out


def number(value: Any) -> Decimal | None:
    """A numeric value as a Decimal: JSON numbers, or text such as "EUR 1,234.56"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = "".join(c for c in value if unicodedata.category(c) != "Sc").strip()
    text = _CURRENCY_CODE.sub("", text).strip()
    if not _NUMBER_VALUE.fullmatch(text):
        return None
    negative = text.startswith(("-", "(")) or text.endswith("-")
    digits = text.strip("+-() ")
    readings = sorted(numbers_in(digits), key=lambda d: -abs(d))  # thousands reading first
    if not readings:
        return None
    return -readings[0] if negative else readings[0]


def close(value: Decimal, found: Decimal) -> bool:
    """Whether a document's number equals the value within the value's own precision."""
    exponent = value.as_tuple().exponent
    step = Decimal(1).scaleb(exponent) if isinstance(exponent, int) else Decimal(0)
    tolerance = max(step / 2, abs(value) * Decimal("1e-9"))
    # Signs are compared loosely: documents write credits as (1,234.56), 1,234.56- or "CR".
    return abs(abs(value) - abs(found)) <= tolerance


def currency_in(value: str, span: str) -> bool:
    """Whether the text writes, by its symbol, the currency a code names: EUR in "\u20ac 12"."""
    code = value.strip().upper()
    return any(code in _SYMBOLS[found] for found in _SYMBOL.findall(fold(span)))


def iso_date(value: Any) -> date | None:
    """The date an ISO date (or date-time) value names, if it is one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    match = _ISO.fullmatch(value.strip())
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def dates_in(span: str) -> set[date]:
    """Every date the text may state, read day-first and month-first."""
    out: set[date] = set()
    default = datetime(2000, 1, 1)
    for match in _DATE_CANDIDATES.finditer(fold(span)):
        candidate = match.group()
        year_first = _YEAR_FIRST.match(candidate) is not None
        for day_first in (False,) if year_first else (True, False):
            try:
                parsed = dateparser.parse(candidate, dayfirst=day_first, default=default)
            except (ValueError, OverflowError):
                continue
            out.add(parsed.date())
    return out


def bool_in(value: bool, span: str) -> bool:
    """Whether the text states the boolean: yes/no, true/false, or a ticked box."""
    return (_TRUE if value else _FALSE).search(fold(span)) is not None


def canonical(value: Any) -> tuple[str, Any] | None:
    """A comparable form of a value, so "1,234.50" equals 1234.5 and " ACME " equals "acme"."""
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return ("bool", value)
    day = iso_date(value)
    if day is not None:
        return ("date", day)
    amount = number(value)
    if amount is not None:
        return ("number", amount)
    if isinstance(value, str):
        return ("text", fold(value))
    return ("other", value)
