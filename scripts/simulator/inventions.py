"""Plausible wrong values: same type, valid for the leaf's schema, absent from the document."""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

from rapidfuzz import fuzz

from scripts.simulator.coerce import document_dates, document_numbers, is_iso_date
from scripts.simulator.grounding import Found
from scripts.simulator.rules import CURRENCIES

TRIES = 24
FUZZ_LIMIT = 80  # rapidfuzz similarity (0-100) an invented value stays below
COMPANY_WORDS = frozenset(
    {"ltd", "llc", "inc", "gmbh", "corp", "corporation", "co", "plc", "ag", "sa", "group"}
    | {"industries", "systems", "holdings", "partners", "services", "company", "limited"}
)
COMPANIES = (
    "Northwind Traders", "Initech LLC", "Umbrella Holdings", "Vandelay Industries",
    "Wayne Logistics", "Stark Supplies", "Cyberdyne Systems", "Tyrell Partners",
    "Soylent Foods", "Hooli Services", "Pied Piper Ltd", "Wonka Trading",
)  # fmt: skip
PEOPLE = (
    "Maria Lindqvist", "Tomasz Nowak", "Aisha Karim", "Jonas Weber", "Lucia Ferreira",
    "Kenji Watanabe", "Olivia Brennan", "Pavel Novak", "Grace Okafor", "Henrik Dahl",
)  # fmt: skip
WORDS = (
    "wrench", "drill", "cable", "service", "license", "support", "premium", "standard",
    "consulting", "maintenance", "shipping", "storage", "training", "audit", "renewal",
)  # fmt: skip
NAME_KEYS = frozenset(
    {"name", "vendor", "seller", "buyer", "customer", "company", "party", "supplier"}
    | {"employer", "issuer", "organization", "organisation", "client", "insurer"}
)
PERSON_KEYS = frozenset({"person", "author", "candidate", "contact", "signatory", "employee"})
PERSON_KEYS |= {"first", "last", "full", "holder", "claimant", "insured"}

Valid = Callable[[dict[str, Any], Any], bool]


class Context:
    """What an invented value must avoid: the document's text, figures and dates."""

    def __init__(self, text: str, resolve: Callable[[Any], dict[str, Any]]) -> None:
        self.text = text
        self.resolve = resolve
        self.lowered = text.lower()
        self.numbers = document_numbers(text)
        self.dates = document_dates(text)


def render(value: Any) -> str:
    """A value as a document would print it (money with two decimals, Yes/No)."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return f"{value:.2f}" if not value.is_integer() else str(int(value))
    return str(value)


def invent(
    leaf: Found,
    seed: str,
    context: Context,
    window: tuple[str | None, str | None],
    valid: Valid,
) -> Any:
    """A different value of the leaf's type its schema accepts, or None if none exists."""
    rng = random.Random(f"{seed}|invent")
    value = leaf.value

    def ok(candidate: Any) -> bool:
        return candidate != value and _apart(candidate, leaf) and valid(leaf.schema, candidate)

    members = _members(leaf.schema, context.resolve)
    if members:
        others = [m for m in members if m != value]
        rng.shuffle(others)
        fresh = [m for m in others if str(m).lower() not in context.lowered]
        return next((m for m in [*fresh, *others] if ok(m)), None)
    if isinstance(value, bool):
        return (not value) if ok(not value) else None
    found: Iterator[Any]
    if isinstance(value, int | float):
        found = (n for n in _numbers(value, rng) if float(n) not in context.numbers)
    elif is_iso_date(value):
        found = (d for d in _dates(value, rng, window) if d not in context.dates)
    elif isinstance(value, str):
        found = (s for s in _strings(value, leaf.keys, rng) if s.lower() not in context.lowered)
    else:
        return None
    return next((c for c in found if ok(c)), None)


def _apart(candidate: Any, leaf: Found) -> bool:
    """Far enough from the true value and its quote that no fuzzy match takes one for the other."""
    if isinstance(candidate, bool):
        return True
    shown = render(candidate).lower()
    return (
        fuzz.ratio(shown, render(leaf.value).lower()) < FUZZ_LIMIT
        and fuzz.partial_ratio(shown, leaf.quote.lower()) < FUZZ_LIMIT
    )


def _members(schema: dict[str, Any], resolve: Callable[[Any], dict[str, Any]]) -> list[Any]:
    """The enum members of a leaf (through one level of anyOf), [] when it has none."""
    s = resolve(schema)
    members = list(s.get("enum") or [])
    for option in s.get("anyOf") or s.get("oneOf") or []:
        members += list(resolve(option).get("enum") or [])
    return [m for m in members if m is not None]


def _numbers(value: float, rng: random.Random) -> Iterator[float]:
    """The value moved by 15-60% (at least 2), up or down; integers stay whole."""
    whole = float(value).is_integer()
    for attempt in range(TRIES):
        delta = max(abs(value) * rng.uniform(0.15, 0.6) * (1 + attempt // 8), rng.randint(2, 9))
        moved = value + delta * (rng.choice((1, -1)) if attempt % 2 == 0 else 1)
        rounded = round(moved) if whole else round(moved, 2)
        yield int(rounded) if isinstance(value, int) else float(rounded)


def _dates(value: str, rng: random.Random, window: tuple[str | None, str | None]) -> Iterator[str]:
    """The date moved by 3-90 days, kept between its object's earlier and later dates."""
    day = dt.date.fromisoformat(value)
    low, high = window
    for _ in range(TRIES):
        moved = (day + dt.timedelta(days=rng.randint(3, 90) * rng.choice((1, -1)))).isoformat()
        if (low is None or moved >= low) and (high is None or moved <= high):
            yield moved


def _strings(value: str, keys: tuple[str, ...], rng: random.Random) -> Iterator[str]:
    """Other digits for ids, another code, name or word; then the same shape, new letters."""
    words = {w for k in keys for w in k.lower().replace("-", "_").split("_")}
    if any(c.isdigit() for c in value):
        for _ in range(TRIES):
            yield "".join(rng.choice(string.digits) if c.isdigit() else c for c in value)
    if len(value) == 3 and value.isalpha() and value.isupper():
        yield from rng.sample(sorted(CURRENCIES), len(CURRENCIES))
    if words & PERSON_KEYS or (words & NAME_KEYS and _person(value)):
        yield from rng.sample(PEOPLE, len(PEOPLE))
    if words & NAME_KEYS or _capitalised(value):
        yield from rng.sample(COMPANIES, len(COMPANIES))
    parts = value.split()
    for attempt in range(TRIES if parts else 0):
        # One word swapped first; more at each round, until the text is clearly another.
        out = list(parts)
        for at in rng.sample(range(len(parts)), min(len(parts), 1 + attempt // 3)):
            word = rng.choice(WORDS)
            tail = parts[at][len(parts[at].rstrip(".,;:!?")) :]  # keep "storage," a list item
            out[at] = (word.capitalize() if parts[at][:1].isupper() else word) + tail
        yield " ".join(out)
    for _ in range(TRIES):
        yield "".join(_same_class(c, rng) for c in value)


def _person(value: str) -> bool:
    """Two or three capitalised words, none a company suffix: "Ada Lovelace"."""
    parts = value.split()
    return (
        2 <= len(parts) <= 3
        and _capitalised(value)
        and not COMPANY_WORDS.intersection(p.lower().strip(".,") for p in parts)
    )


def _capitalised(value: str) -> bool:
    parts = value.split()
    return len(parts) >= 2 and all(p[:1].isupper() for p in parts)


def _same_class(char: str, rng: random.Random) -> str:
    if char.isdigit():
        return rng.choice(string.digits)
    if char.isupper():
        return rng.choice(string.ascii_uppercase)
    if char.islower():
        return rng.choice(string.ascii_lowercase)
    return char
