"""Cross-field rules over grounded data: a figure a rule computes keeps its quote only when
the whole rule group is grounded and consistent; otherwise it is computed, unquoted.

The rules are those of scripts/simulator/rules.py (the built-in invoice validators): line
amount = quantity x unit_price, subtotal = sum of line amounts, total = subtotal + tax, and
dates of one object in property order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scripts.simulator.coerce import is_iso_date
from scripts.simulator.rules import link_references

CENT = 0.01
_EPS = 1e-9
ITEM_KEYS = ("quantity", "unit_price", "amount")
TOTAL_KEYS = ("subtotal", "tax", "total")


def objects(value: Any, ptr: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object inside a JSON value with its JSON Pointer, parents first."""
    if isinstance(value, dict):
        yield ptr, value
        children: Any = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return
    for key, item in children:
        yield from objects(item, f"{ptr}/{_escape(str(key))}")


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def settle(data: Any, found: dict[str, Any]) -> set[str]:
    """Make `data` satisfy the rules, dropping from `found` the quotes of figures changed.

    Returns the pointers the totals rules tie together: hallucinating one of them would
    break a validator, so they are never hallucinated.
    """
    bound: set[str] = set()
    where: dict[int, str] = {}
    for ptr, obj in objects(data):
        where[id(obj)] = ptr
        if isinstance(obj.get("line_items"), list) or {"subtotal", "total"} <= obj.keys():
            bound |= _totals(obj, ptr, found)
        _dates(obj, ptr, found)

    def unquoted(target: dict[str, Any], key: str, _value: Any) -> bool:
        return f"{where.get(id(target), '')}/{_escape(key)}" not in found

    for _, obj in objects(data):
        link_references(obj, unquoted)
    return bound


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _close(a: float | None, b: float, tolerance: float = CENT) -> bool:
    return a is not None and abs(a - b) <= tolerance + _EPS


def _items(obj: dict[str, Any], ptr: str, found: dict[str, Any]) -> tuple[set[str], int, bool]:
    """Line amounts made to agree with quantity x unit_price.

    Returns the pointers bound, how many lines have an amount, and whether all are quoted.
    """
    bound: set[str] = set()
    count, quoted_all = 0, True
    items = obj.get("line_items")
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        base = f"{ptr}/line_items/{i}"
        bound |= {f"{base}/{k}" for k in ITEM_KEYS if k in item}
        qty, price = _num(item.get("quantity")), _num(item.get("unit_price"))
        if "amount" in item and qty is not None and price is not None:
            expected = round(qty * price, 2)
            quoted = all(f"{base}/{k}" in found for k in ITEM_KEYS)
            if not (quoted and _close(_num(item["amount"]), expected)):
                found.pop(f"{base}/amount", None)
                item["amount"] = expected
        if _num(item.get("amount")) is not None:
            count += 1
            quoted_all = quoted_all and f"{base}/amount" in found
    return bound, count, quoted_all


def _totals(obj: dict[str, Any], ptr: str, found: dict[str, Any]) -> set[str]:
    """Subtotal, tax and total made to agree; returns the pointers the rules bind."""
    bound, count, all_quoted = _items(obj, ptr, found)
    bound |= {f"{ptr}/{k}" for k in TOTAL_KEYS if k in obj}
    sub, tax, total = (f"{ptr}/{k}" for k in TOTAL_KEYS)
    if count and "subtotal" in obj:
        lines = obj["line_items"]
        expected = round(sum(_num(i.get("amount")) or 0.0 for i in lines if isinstance(i, dict)), 2)
        tolerance = CENT * count
        if not (all_quoted and sub in found and _close(_num(obj["subtotal"]), expected, tolerance)):
            found.pop(sub, None)
            obj["subtotal"] = expected
    subtotal = _num(obj.get("subtotal"))
    if "total" not in obj or subtotal is None:
        return bound
    printed = _num(obj["total"])
    if printed is not None and total in found and sub in found:
        if "tax" not in obj or tax in found:
            if _close(printed, subtotal + (_num(obj.get("tax")) or 0.0)):
                return bound
        elif printed - subtotal >= 0:
            obj["tax"] = round(printed - subtotal, 2)  # the printed figures say what tax is
            return bound
    found.pop(total, None)
    obj["total"] = round(subtotal + (_num(obj.get("tax")) or 0.0), 2)
    return bound


def _dates(obj: dict[str, Any], ptr: str, found: dict[str, Any]) -> None:
    """Unquoted dates moved into order around the quoted ones (property order)."""
    keys = [k for k, v in obj.items() if is_iso_date(v)]
    quoted = [f"{ptr}/{k}" in found for k in keys]
    for i, key in enumerate(keys):
        if quoted[i]:
            continue
        earlier = [obj[k] for k in keys[:i]]
        later = [obj[k] for k, q in zip(keys[i + 1 :], quoted[i + 1 :], strict=True) if q]
        low, high = max(earlier, default=None), min(later, default=None)
        if low is not None and high is not None and high < low:
            continue  # the document's own dates are out of order: nothing fits between
        if low is not None and obj[key] < low:
            obj[key] = low
        if high is not None and obj[key] > high:
            obj[key] = high
