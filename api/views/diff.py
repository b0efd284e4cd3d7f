"""Diff views (pure): results flattened to dotted fields, compared, summed per field.

`before` is always the `against` batch's value and `after` this batch's: "added" is a field
only this batch's result has (the new extractor version added it), "removed" one only the
`against` result has. Nested objects are walked ("vendor.name"); a list is one value under
its own path, compared whole. A key that itself holds a dot is not escaped, so {"a.b": 1}
and {"a": {"b": 1}} name the same field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from schemas.jobs import JobStatus
from storage.diffs import LoneJob, PairedJob, PairRow

ChangeKind = Literal["changed", "added", "removed"]
ROOT = "$"  # the path of a result that is not an object
MAX_SUMMARY_FIELDS = 10_000  # results with data-dependent keys must not grow the summary


class Change(TypedDict):
    """One field that differs between the two results."""

    field: str
    change: ChangeKind
    before: Any
    after: Any


def flatten(result: Any) -> dict[str, Any]:
    """Every leaf of a result under its dotted path; lists and empty objects are leaves."""
    if not isinstance(result, Mapping):
        return {ROOT: result}
    leaves: dict[str, Any] = {}
    _walk(result, "", leaves)
    return leaves


def _walk(node: Mapping[str, Any], prefix: str, leaves: dict[str, Any]) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            _walk(value, f"{path}.", leaves)
        else:
            leaves[path] = value  # an empty object is a value, so {} differs from missing


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1 and "1" is not 1 (Python's == says so)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def compare(before: Any, after: Any) -> list[Change]:
    """The fields that differ from `before` (the against result) to `after`, by path."""
    old, new = flatten({} if before is None else before), flatten({} if after is None else after)
    changes: list[Change] = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            changes.append(Change(field=path, change="removed", before=old[path], after=None))
        elif path not in old:
            changes.append(Change(field=path, change="added", before=None, after=new[path]))
        elif not same(old[path], new[path]):
            changes.append(Change(field=path, change="changed", before=old[path], after=new[path]))
    return changes


def _counts() -> dict[str, int]:
    return {"changed": 0, "added": 0, "removed": 0}


@dataclass
class DiffSummary:
    """Per-field change counts and document counts of one diff, fed line by line."""

    documents: int = 0  # document occurrences seen: paired or in one batch only
    compared: int = 0  # pairs where both jobs succeeded
    changed_documents: int = 0
    not_compared: int = 0  # pairs where either job has not succeeded
    unmatched: dict[str, int] = field(default_factory=lambda: {"batch": 0, "against": 0})
    fields: dict[str, dict[str, int]] = field(default_factory=dict)
    fields_truncated: bool = False

    def add_pair(self, changes: list[Change] | None) -> None:
        """Count a paired occurrence: its changes, or None when it was not compared."""
        self.documents += 1
        if changes is None:
            self.not_compared += 1
            return
        self.compared += 1
        self.changed_documents += bool(changes)
        for change in changes:
            counts = self.fields.get(change["field"])
            if counts is None:
                if len(self.fields) >= MAX_SUMMARY_FIELDS:
                    self.fields_truncated = True
                    continue
                counts = self.fields[change["field"]] = _counts()
            counts[change["change"]] += 1

    def add_unmatched(self, side: Literal["batch", "against"]) -> None:
        """Count an occurrence found in one batch only."""
        self.documents += 1
        self.unmatched[side] += 1

    def line(self, *, batch_id: uuid.UUID, against: uuid.UUID) -> dict[str, Any]:
        """The summary, as the final NDJSON line and the `format=summary` answer."""
        return {
            "type": "summary",
            "batch_id": str(batch_id),
            "against": str(against),
            "documents": self.documents,
            "compared": self.compared,
            "changed_documents": self.changed_documents,
            "not_compared": self.not_compared,
            "unmatched": dict(self.unmatched),
            "fields": {name: dict(self.fields[name]) for name in sorted(self.fields)},
            "fields_truncated": self.fields_truncated,
        }


def pair_line(row: PairRow, summary: DiffSummary) -> dict[str, Any] | None:
    """Count one occurrence; its NDJSON line, or None for a pair without changes."""
    mine, theirs = row.job, row.against
    if mine is None or theirs is None:
        lone = mine or theirs
        if lone is None:  # pragma: no cover - a FULL JOIN row has at least one side
            return None
        side: Literal["batch", "against"] = "batch" if mine is not None else "against"
        summary.add_unmatched(side)
        return _unmatched(row.document_sha256, lone.filename, lone.job_id, lone.status, side)
    compared = _succeeded(mine) and _succeeded(theirs)
    changes = compare(theirs.result, mine.result) if compared else None
    summary.add_pair(changes)
    if compared and not changes:
        return None
    line: dict[str, Any] = {
        "type": "document",
        "document_sha256": row.document_sha256,
        "filename": mine.filename if mine.filename is not None else theirs.filename,
        "job_id": str(mine.job_id),
        "against_job_id": str(theirs.job_id),
        "changes": changes or [],
    }
    if not compared:  # no result to compare: say why
        line |= {"status": mine.status, "against_status": theirs.status}
    return line


def lone_line(job: LoneJob, summary: DiffSummary) -> dict[str, Any]:
    """Count a job without a stored document; its unmatched line (it has no sha256)."""
    summary.add_unmatched(job.side)
    return _unmatched(None, job.filename, job.job_id, job.status, job.side)


def _unmatched(
    sha: str | None,
    filename: str | None,
    job_id: uuid.UUID,
    status: str,
    side: Literal["batch", "against"],
) -> dict[str, Any]:
    key = "job_id" if side == "batch" else "against_job_id"
    return {
        "type": "unmatched",
        "document_sha256": sha,
        "filename": filename,
        key: str(job_id),
        "status": status,
        "in": side,
    }


def _succeeded(job: PairedJob) -> bool:
    return job.status == JobStatus.SUCCEEDED


def ndjson(obj: Mapping[str, Any]) -> bytes:
    """One NDJSON line."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
