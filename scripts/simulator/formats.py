"""Scalars that meet JSON Schema value keywords: strings (format, pattern, lengths), numbers."""

from __future__ import annotations

import itertools
import math
import operator
import random
import re
import uuid
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from scripts.simulator.patterns import matches, sample_pattern
from scripts.simulator.rules import coded_string

# What docqueue's answer validation checks formats with (jsonschema[format-nongpl]).
FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
NO_LIMIT = 1 << 30  # a string's length when maxLength does not say
WORD_TRIES = 2  # document words tried on a pattern before strings are built from the pattern
NUMBER_TRIES = 64  # random multiples tried before walking up from the lowest one
_BOUNDS: dict[str, Callable[[float, float], bool]] = {
    "minimum": operator.ge,
    "exclusiveMinimum": operator.gt,
    "maximum": operator.le,
    "exclusiveMaximum": operator.lt,
}
_SCALAR_KEYWORDS = frozenset(
    {"type", "title", "description", "default", "examples", "format", "pattern", "minLength"}
    | {"maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    | {"const", "enum"}
)
_URI_FORMATS = frozenset({"uri", "url", "iri", "uri-reference", "iri-reference", "uri-template"})


def _re2_pattern(validator: Any, pattern: str, instance: Any, _: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not matches(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# docqueue's answer check: Draft 2020-12, formats checked, patterns run by RE2.
_Checker = validators.extend(Draft202012Validator, {"pattern": _re2_pattern})


def answer_checker(root: dict[str, Any]) -> Any:
    """A validator for `root` as docqueue checks answers; `.evolve(schema=sub)` for parts."""
    return _Checker(root, format_checker=FORMAT_CHECKER)


def has_type(value: Any, kind: Any) -> bool:
    """Whether a JSON value has the schema's type (any type when none is given)."""
    if isinstance(kind, list):
        return any(has_type(value, k) for k in kind)
    checks = {
        "null": value is None,
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    return checks.get(kind, True) if isinstance(kind, str) else True


def scalar_fits(leaf: dict[str, Any], value: Any) -> bool | None:
    """Whether a scalar satisfies a flat schema; None when that takes a real validator."""
    keys = [k for k in leaf if not k.startswith("x-")]  # extensions are annotations
    if not _SCALAR_KEYWORDS.issuperset(keys) or isinstance(value, dict | list):
        return None
    if not has_type(value, leaf.get("type")):
        return False
    if "const" in leaf or "enum" in leaf:
        return None  # JSON equality (1 is not true) is the validator's business
    if isinstance(value, str):
        low, high = int(leaf.get("minLength", 0)), int(leaf.get("maxLength", NO_LIMIT))
        pattern = leaf.get("pattern")
        fits = low <= len(value) <= high and conforms(leaf.get("format"), value)
        return fits and (not isinstance(pattern, str) or matches(pattern, value))
    return _num(value) is None or _accepts(leaf, value)


def string_value(
    s: dict[str, Any], name: str, words: list[str], rng: random.Random, day: Callable[[], str]
) -> str:
    """A string honouring format, pattern and lengths; free ones are the document's words."""
    lengths = (int(s.get("minLength", 0)), int(s.get("maxLength", NO_LIMIT)))
    pattern = s.get("pattern") if isinstance(s.get("pattern"), str) else None
    fmt = s.get("format") if isinstance(s.get("format"), str) else None
    first: str | None = None
    # Strings both RE2 and Python `re` accept first; RE2 alone (docqueue's engine) if none.
    for strict in (True, False) if pattern is not None else (False,):
        for text in _candidates(
            s, name.lower(), words, rng, day=day, lengths=lengths, pattern=pattern, strict=strict
        ):
            if text is None:
                continue
            fits = lengths[0] <= len(text) <= lengths[1] and conforms(fmt, text)
            if fits and (pattern is None or matches(pattern, text, python_too=strict)):
                return text
            first = text if first is None else first
    return first or "x"  # nothing fits (the schema allows no string): stay well-formed


def _candidates(
    s: dict[str, Any],
    lname: str,
    words: list[str],
    rng: random.Random,
    *,
    day: Callable[[], str],
    lengths: tuple[int, int],
    pattern: str | None,
    strict: bool,
) -> Iterator[str | None]:
    """Best first: the format (or one the name hints at), an ISO code, the document's words,
    strings made from the pattern, words around a short match, then free words."""
    hint = s.get("format") if isinstance(s.get("format"), str) else None
    hint = hint or ("uri" if lname in ("url", "website") else None)
    hint = hint or ("email" if "email" in lname else None)
    if hint is not None:
        yield formatted(hint, rng.choice(words), rng, day, lengths)
    yield coded_string(lname, str(s.get("description", "")), words)
    if pattern is not None:
        for _ in range(WORD_TRIES):
            yield from _word_variants(rng.choice(words), rng.choice(words))
        for _ in range(3):
            yield sample_pattern(pattern, rng, lengths, python_too=strict)
        short = sample_pattern(pattern, rng, python_too=strict) or ""
        padding = free_text(words, rng, (lengths[0], NO_LIMIT))
        yield f"{short} {padding}"[: lengths[1]]
        yield f"{padding} {short}"[-lengths[1] :]
    yield free_text(words, rng, lengths)


def _word_variants(word: str, other: str) -> Iterator[str]:
    """A document word as a pattern may want it: as is, in either case, as an identifier."""
    snake = re.sub(r"[^a-z0-9]+", "_", word.lower()).strip("_")
    yield from (word, word.lower(), word.upper(), snake, f"{snake}_{other.lower()}")
    yield f"{word} {other}"


def conforms(fmt: str | None, text: str) -> bool:
    """Whether `text` is a valid `fmt` (formats the checker does not know always are)."""
    return fmt is None or FORMAT_CHECKER.conforms(text, fmt)


def formatted(
    fmt: str, word: str, rng: random.Random, day: Callable[[], str], lengths: tuple[int, int]
) -> str | None:
    """A value of `fmt` whose length is within `lengths`, or None for formats not made here.

    `word` seeds the readable parts (an email's user, a URI's path); `day` hands out dates.
    """
    low, high = lengths
    slug = re.sub(r"[^a-z0-9]", "", word.lower()) or "user"
    if fmt == "date":
        return day()
    if fmt in ("date-time", "time"):
        clock = f"{rng.randint(8, 17):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
        head = f"{day()}T{clock}" if fmt == "date-time" else clock
        # Fraction digits and the offset's spelling are how a timestamp grows or shrinks.
        tails = ["Z", *(f".{'0' * n}Z" for n in range(1, 10)), "+00:00"]
        tails += [f".{'0' * n}+00:00" for n in range(1, 10)]
        return next((head + t for t in tails if low <= len(head + t) <= high), head + "Z")
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt in ("email", "idn-email"):
        domain = next((d for d in ("example.com", "ex.co", "b") if len(d) + 2 <= high), "b")
        return f"{_stretch(slug, low - len(domain) - 1, high - len(domain) - 1)}@{domain}"
    if fmt in _URI_FORMATS:
        prefix = next(
            (p for p in ("https://example.com/", "https://ex.co/", "a:") if len(p) < high), "a:"
        )
        return prefix + _stretch(slug, low - len(prefix), high - len(prefix))
    if fmt in ("hostname", "idn-hostname"):
        return _stretch(slug, low - 4, high - 4) + ".com"
    if fmt == "json-pointer":
        return "/" + _stretch(slug, low - 1, high - 1)
    simple = {
        "ipv4": f"192.0.2.{rng.randint(1, 254)}",
        "ipv6": f"2001:db8::{rng.randint(1, 0xFFFF):x}",
        "duration": f"P{rng.randint(1, 90)}D",
        "relative-json-pointer": "0",
        "regex": f"^{slug}$",
    }
    return simple.get(fmt)


def free_text(words: list[str], rng: random.Random, lengths: tuple[int, int]) -> str:
    """One to three of the document's words, padded with more or cut to fit `lengths`."""
    low, high = lengths
    if high <= 0:
        return ""
    text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
    while len(text) < low:
        text = f"{text} {rng.choice(words)}"
    text = text[:high].rstrip()
    # A cut at a space may leave the text short again: letters, not spaces, make up the rest.
    return _stretch(text, max(low, 1), high)


def _stretch(text: str, low: int, high: int) -> str:
    """`text` cut to `high` or padded to `low` by repeating its letters (never empty)."""
    letters = re.sub(r"[^A-Za-z0-9]", "", text) or "x"
    while len(text) < max(low, 1):
        text += letters[: max(low, 1) - len(text)]
    return text[: max(high, 1)]


def number(s: dict[str, Any], rng: random.Random, *, integer: bool, small: bool) -> int | float:
    """A number inside minimum/maximum (exclusive ones honoured), a multipleOf where asked.

    Without bounds, values stay small (1-10 for counts, 1-500 for amounts, 2 dp).
    """
    low, high = _window(s, 10 if small or integer else 500)
    multiple = _num(s.get("multipleOf"))
    if (multiple is None or multiple <= 0) and not integer:
        drawn = rng.uniform(low, high)
        floats = [round(drawn, 0 if small else 2), round(drawn, 4), round(drawn, 8), drawn]
        floats += [(low + high) / 2, low, high]
        return next((c for c in floats if _accepts(s, c)), floats[0])
    if multiple is None or multiple <= 0:  # integers: one draw nearly always does
        drawn_int = rng.randint(math.ceil(low), max(math.ceil(low), math.floor(high)))
        if _accepts(s, drawn_int):
            return drawn_int
    step = Fraction(1) if multiple is None or multiple <= 0 else Fraction(repr(s["multipleOf"]))
    if integer:  # the smallest multiple of `step` that is a whole number
        step = Fraction(step.numerator)
    first, last = math.ceil(Fraction(low) / step), math.floor(Fraction(high) / step)
    # Random multiples first; then up from the lowest (a float multipleOf rejects some).
    drawn_ks = (rng.randint(first, last) for _ in range(NUMBER_TRIES if first <= last else 0))
    ks = itertools.chain(drawn_ks, range(first, min(last, first + 1_000) + 1))
    values = (_as_number(k * step) for k in ks)
    return next((v for v in values if _accepts(s, v)), _as_number(first * step))


def _window(s: dict[str, Any], span: int) -> tuple[float, float]:
    """Where to draw from: the schema's bounds, else a default window next to the given one."""
    lows = [v for v in map(_num, (s.get("minimum"), s.get("exclusiveMinimum"))) if v is not None]
    highs = [v for v in map(_num, (s.get("maximum"), s.get("exclusiveMaximum"))) if v is not None]
    low, high = (max(lows) if lows else None), (min(highs) if highs else None)
    if low is None:
        low = 1.0 if high is None or high > 1 else (0.0 if high > 0 else high - span)
    if high is None:
        high = float(span) if low < span else low + span
    return low, high


def _accepts(s: dict[str, Any], value: float) -> bool:
    """The value keywords exactly as jsonschema checks them (its float multipleOf included)."""
    for key, holds in _BOUNDS.items():
        bound = s.get(key)
        if bound is not None and _num(bound) is not None and not holds(value, bound):
            return False
    multiple: Any = s.get("multipleOf")
    return _num(multiple) is None or multiple <= 0 or _is_multiple(value, multiple)


def _is_multiple(value: float, multiple: float) -> bool:
    if isinstance(multiple, float):
        quotient = value / multiple
        if not math.isfinite(quotient) or int(quotient) != quotient:
            return False
    elif value % multiple:
        return False
    # Decimal-exact too, as validators that read 12.34 as a decimal see it.
    return (Fraction(repr(value)) / Fraction(repr(multiple))).denominator == 1


def _as_number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def _num(value: Any) -> float | None:
    """The value as a number, or None for non-numbers (bool included)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
