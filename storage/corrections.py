"""A review's corrections: JSON Pointers applied to a result, and the evidence they change.

RFC 6901 is small, and the rules here are narrower than a JSON Patch library's `replace`
and `add` (a pointer names an existing leaf, an existing list item, or a key of an existing
object; never `-`, never the root), so this is a few lines rather than a dependency.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.trust.fields import leaves, unescape

__all__ = [
    "CorrectionError",
    "apply",
    "lowest",
    "reviewed_evidence",
    "settle",
]

_POINTER = re.compile(r"^(/([^/~]|~[01])*)+$")  # at least one segment, escapes well formed
_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")  # RFC 6901: no leading zeros, no sign
MAX_POINTER_CHARS = 512


class CorrectionError(ValueError):
    """A correction that cannot be applied; `type` is the API's error type."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type, self.message = type_, message


def _bad(pointer: str, why: str) -> CorrectionError:
    shown = pointer if len(pointer) <= 80 else pointer[:80] + "..."
    return CorrectionError("invalid_pointer", f"correction {shown!r}: {why}")


def _segments(pointer: str) -> list[str]:
    if len(pointer) > MAX_POINTER_CHARS or not _POINTER.fullmatch(pointer):
        raise _bad(pointer, "not a JSON Pointer to a field (like /vendor/name or /items/0)")
    return [unescape(s) for s in pointer.split("/")[1:]]


def _step(node: Any, segment: str, pointer: str) -> Any:
    if isinstance(node, dict):
        if segment not in node:
            raise _bad(pointer, f"the result has no {segment!r} there")
        return node[segment]
    if isinstance(node, list):
        return node[_index(node, segment, pointer)]
    raise _bad(pointer, f"{segment!r} is inside a value that is neither object nor list")


def _index(node: list[Any], segment: str, pointer: str) -> int:
    if not _INDEX.fullmatch(segment) or int(segment) >= len(node):
        raise _bad(pointer, f"{segment!r} is not an item of a list of {len(node)}")
    return int(segment)


def _get(doc: Any, pointer: str) -> Any:
    node = doc
    for segment in _segments(pointer):
        node = _step(node, segment, pointer)
    return node


def apply(
    result: Mapping[str, Any], corrections: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A copy of `result` with each correction set, and {pointer: {before, after}}.

    Raises CorrectionError (`invalid_pointer`) naming the first pointer that does not name
    an existing leaf, list item, or key of an existing object.
    """
    doc: dict[str, Any] = copy.deepcopy(dict(result))
    changes: dict[str, dict[str, Any]] = {}
    for pointer, value in corrections.items():
        *path, last = _segments(pointer)
        parent: Any = doc
        for segment in path:
            parent = _step(parent, segment, pointer)
        if isinstance(parent, dict):
            before = parent.get(last)
            parent[last] = copy.deepcopy(value)
        elif isinstance(parent, list):
            index = _index(parent, last, pointer)
            before = parent[index]
            parent[index] = copy.deepcopy(value)
        else:
            raise _bad(pointer, "its parent is neither an object nor a list")
        changes[pointer] = {"before": copy.deepcopy(before), "after": value}
    return doc, changes


def settle(
    final: Mapping[str, Any], changes: Mapping[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The changes with `after` as the validated result holds it (coerced, trimmed).

    A pointer the validated result no longer has (a key the schema does not know, which
    validation drops) is a CorrectionError (`correction_invalid`): it would not be kept.
    """
    settled: dict[str, dict[str, Any]] = {}
    for pointer, change in changes.items():
        try:
            after = _get(final, pointer)
        except CorrectionError:
            raise CorrectionError(
                "correction_invalid", f"correction {pointer!r}: not a field of the schema"
            ) from None
        settled[pointer] = {"before": change["before"], "after": after}
    return settled


def _under(path: str, pointers: Sequence[str]) -> bool:
    # Escaped pointers: a "/" inside a key is "~1", so a prefix match is a real ancestor.
    return any(path == p or path.startswith(p + "/") for p in pointers)


def reviewed_evidence(
    evidence: Sequence[Mapping[str, Any]], final: Mapping[str, Any], pointers: Sequence[str]
) -> list[dict[str, Any]]:
    """The evidence list for a corrected result, in the result's leaf order.

    Leaves under a corrected pointer take their new value, confidence 1.0 and the signal
    `reviewed`; their quote and support stay what the extraction found (a leaf a
    correction added has no quote: `absent` if null, else `unsupported`). Other leaves
    keep their entries; entries of leaves the correction removed are dropped.
    """
    by_path = {str(e["path"]): e for e in evidence}
    out: list[dict[str, Any]] = []
    for path, value in leaves(dict(final)):
        old = by_path.get(path)
        if not _under(path, pointers):
            if old is not None:
                out.append(dict(old))
            continue
        entry: dict[str, Any] = dict(old) if old is not None else _new_entry(path, value)
        entry["value"] = value
        entry["confidence"] = 1.0
        entry["signals"] = {**dict(entry.get("signals") or {}), "reviewed": 1.0}
        out.append(entry)
    return out


def _new_entry(path: str, value: Any) -> dict[str, Any]:
    return {
        "path": path,
        "quote": None,
        "support": "absent" if value is None else "unsupported",
        "start": None,
        "end": None,
        "page": None,
        "signals": {},
    }


def lowest(evidence: Sequence[Mapping[str, Any]]) -> float | None:
    """The job's confidence: its lowest field's (None without fields)."""
    values = [float(e["confidence"]) for e in evidence if e.get("confidence") is not None]
    return min(values) if values else None
