"""The evidence envelope's side of an extraction: quotes re-pointed into the merged result,
the document-fit verdicts of the chunks combined, the evidence request added to prompts."""

from __future__ import annotations

import json
from typing import Any

from schemas.trust.envelope import DocumentFit, evidence_note
from schemas.trust.fields import escape, unescape

__all__ = ["combine_fit", "remap_quotes", "sample_messages", "with_evidence_note"]

SAMPLE_NOTE = "Independent sample {number}."  # the simulator reads it (scripts/simulator)


def with_evidence_note(messages: list[dict[str, str]], sample: int = 1) -> list[dict[str, str]]:
    """`messages` with the evidence request (and the sample number past 1) in the system text."""
    note = evidence_note()
    if sample > 1:
        note = f"{note} {SAMPLE_NOTE.format(number=sample)}"
    out = [dict(m) for m in messages]
    for message in out:
        if message["role"] == "system":
            message["content"] = f"{message['content']}\n\n{note}"
            return out
    return [{"role": "system", "content": note}, *out]


def sample_messages(messages: list[dict[str, str]], sample: int) -> list[dict[str, str]]:
    """The same request as another, independent sample (self-consistency)."""
    return with_evidence_note(messages, sample)


def combine_fit(fits: list[DocumentFit]) -> DocumentFit:
    """One verdict for the document: a mismatch only when every chunk says so.

    A long contract's appendix may look like anything; a document is the wrong kind only
    when no part of it is the kind the schema describes.
    """
    if not fits:
        return DocumentFit(fits=True, reason="")
    fitting = [f for f in fits if f.fits]
    return fitting[0] if fitting else fits[0]


def _canonical(item: Any) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def remap_quotes(
    *,
    chunk_data: dict[str, Any],
    merged: dict[str, Any],
    quotes: list[tuple[str, str]],
    list_fields: tuple[str, ...],
) -> list[tuple[str, str]]:
    """A chunk's quotes with list indices re-pointed at the same items of the merged result.

    Merging concatenates list fields and drops repeats, so item 0 of chunk 3 is item 17 of
    the result: each item is found again by value, through one index per list (a long
    invoice has thousands of lines). Quotes of an item the merge dropped go.
    """
    places: dict[str, dict[str, int]] = {}  # list field -> canonical item -> merged index
    mine: dict[tuple[str, int], str] = {}  # (list field, chunk index) -> canonical item
    out: list[tuple[str, str]] = []
    for path, quote in quotes:
        parts = path.split("/")[1:]
        if len(parts) < 2 or unescape(parts[0]) not in list_fields or not parts[1].isdigit():
            out.append((path, quote))
            continue
        key, index = unescape(parts[0]), int(parts[1])
        items, target = chunk_data.get(key), merged.get(key)
        if not isinstance(items, list) or not isinstance(target, list) or index >= len(items):
            continue
        if key not in places:
            places[key] = {}
            for j, item in enumerate(target):
                places[key].setdefault(_canonical(item), j)
        wanted = mine.get((key, index))
        if wanted is None:
            wanted = mine[(key, index)] = _canonical(items[index])
        found = places[key].get(wanted)
        if found is not None:
            rest = "".join(f"/{p}" for p in parts[2:])
            out.append((f"/{escape(key)}/{found}{rest}", quote))
    return out
