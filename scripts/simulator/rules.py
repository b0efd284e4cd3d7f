"""Rules the project's validators check beyond JSON Schema: sums, references, ISO codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Common ISO 4217 codes: one of these found in the document wins over the default.
CURRENCIES = frozenset(
    {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR", "SEK", "NOK", "DKK", "PLN"}
)
TAX_RATE = 0.08

# Whether the schema lets `target[key]` take `value`: a rule never writes what it forbids.
Fits = Callable[[dict[str, Any], str, Any], bool]


def _anything(_target: dict[str, Any], _key: str, _value: Any) -> bool:
    return True


def apply_object_rules(obj: dict[str, Any], fits: Fits = _anything) -> None:
    """Fix up one freshly generated object so cross-field validators accept it.

    Only values `fits` allows are written: where the schema and a rule disagree, the schema wins.
    """
    fix_totals(obj, fits)
    link_references(obj, fits)


def fix_totals(obj: dict[str, Any], fits: Fits = _anything) -> None:
    """Amount = quantity x unit_price; subtotal = sum of amounts; total = subtotal + tax (2 dp)."""
    items = obj.get("line_items")
    if not isinstance(items, list):
        return
    amounts: list[float] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        qty, price = _num(item.get("quantity")), _num(item.get("unit_price"))
        if "amount" in item and qty is not None and price is not None:
            _put(item, "amount", round(qty * price, 2), fits)
        amount = _num(item.get("amount"))
        if amount is not None:
            amounts.append(amount)
    # Each figure builds on what was really written before it, so they agree where they can.
    subtotal = _put(obj, "subtotal", round(sum(amounts), 2), fits)
    subtotal = round(sum(amounts), 2) if subtotal is None else subtotal
    tax = _put(obj, "tax", round(subtotal * TAX_RATE, 2), fits) or 0.0
    _put(obj, "total", round(subtotal + tax, 2), fits)


def _put(target: dict[str, Any], key: str, value: Any, fits: Fits) -> float | None:
    """Write `value` over an existing field if the schema allows; the field's number after."""
    if key in target and fits(target, key, value):
        target[key] = value
    return _num(target.get(key))


def link_references(obj: dict[str, Any], fits: Fits = _anything) -> None:
    """A field named after a sibling list of named items takes one of their names.

    E.g. obligations[].party must name one of parties[].name: validators check such links.
    """
    for key, items in obj.items():
        names = _names(items)
        if not names:
            continue
        singular = _singular(key)
        turn = 0
        for other_key, other in obj.items():
            if other_key == key:
                continue
            for target in other if isinstance(other, list) else [other]:
                if isinstance(target, dict) and isinstance(target.get(singular), str):
                    _put(target, singular, names[turn % len(names)], fits)
                    turn += 1


def coded_string(name: str, description: str, words: list[str]) -> str | None:
    """An ISO code when the field asks for one (by name or description), else None."""
    hint = f"{name} {description}".lower()
    if "iso 4217" in hint or name in ("currency", "currency_code"):
        return next((w for w in words if w in CURRENCIES), "USD")
    if "iso 639" in hint or name in ("language", "language_code", "lang"):
        return "en"
    if "iso 3166" in hint or name == "country_code":
        return "US"
    return None


def _names(items: Any) -> list[str]:
    if not isinstance(items, list) or not items:
        return []
    names = [i.get("name") for i in items if isinstance(i, dict)]
    return [n for n in names if isinstance(n, str)] if len(names) == len(items) else []


def _singular(plural: str) -> str:
    if plural.endswith("ies"):
        return plural[:-3] + "y"
    return plural[:-1] if plural.endswith("s") else plural


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
