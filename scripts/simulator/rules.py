"""Rules the project's validators check beyond JSON Schema: sums, references, ISO codes."""

from __future__ import annotations

from typing import Any

# Common ISO 4217 codes: one of these found in the document wins over the default.
CURRENCIES = frozenset(
    {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "CNY", "INR", "SEK", "NOK", "DKK", "PLN"}
)
TAX_RATE = 0.08


def apply_object_rules(obj: dict[str, Any]) -> None:
    """Fix up one freshly generated object so cross-field validators accept it."""
    fix_totals(obj)
    link_references(obj)


def fix_totals(obj: dict[str, Any]) -> None:
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
            item["amount"] = round(qty * price, 2)
        amount = _num(item.get("amount"))
        if amount is not None:
            amounts.append(amount)
    subtotal = round(sum(amounts), 2)
    tax = 0.0
    if "subtotal" in obj:
        obj["subtotal"] = subtotal
    if "tax" in obj:
        tax = round(subtotal * TAX_RATE, 2)
        obj["tax"] = tax
    if "total" in obj:
        obj["total"] = round(subtotal + tax, 2)


def link_references(obj: dict[str, Any]) -> None:
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
                    target[singular] = names[turn % len(names)]
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
