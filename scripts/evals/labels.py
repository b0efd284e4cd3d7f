"""A labels file (one JSON object per line) and which result line each label is about.

A line is `{"job_id"?, "key"?, "filename"?, "labels": {...}}`: `labels` is a result object
in the extractor's schema holding only the fields labelled. It names its document by job
id, else by key (the document key the batch was submitted with), else by file name; the
first of those that finds a result line wins, so labels exported from one batch also
score a rerun of it (new job ids, the same keys).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KEY_PREFIX = "doc:"  # how a document key is stored as a job's idempotency key
IDENTIFIERS = ("job_id", "key", "filename")


class LabelFileError(ValueError):
    """A line of a labels file that is not a label."""


def doc_key(value: Any) -> str | None:
    """A document key as batch results show it (without the stored `doc:` prefix)."""
    if value is None:
        return None
    return str(value).removeprefix(KEY_PREFIX)


@dataclass(frozen=True)
class Label:
    """One line of a labels file."""

    line: int
    labels: dict[str, Any]
    job_id: str | None = None
    key: str | None = None
    filename: str | None = None

    def ident(self) -> dict[str, Any]:
        """The line number and whichever of job id, key and file name the line gave."""
        found = {"job_id": self.job_id, "key": self.key, "filename": self.filename}
        return {"line": self.line, **{k: v for k, v in found.items() if v is not None}}


def _identifier(obj: Mapping[str, Any], name: str, line: int) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise LabelFileError(f"line {line}: {name} must be a string")
    return str(value)


def parse_label(text: str, line: int) -> Label | None:
    """One line as a Label (None for a blank line); LabelFileError if it is not one."""
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelFileError(f"line {line}: not JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise LabelFileError(f"line {line}: a label line is a JSON object")
    labels = obj.get("labels")
    if not isinstance(labels, dict):
        raise LabelFileError(f'line {line}: "labels" must be an object of labelled fields')
    found = {name: _identifier(obj, name, line) for name in IDENTIFIERS}
    if not any(found.values()):
        raise LabelFileError(f"line {line}: name the document by job_id, key or filename")
    return Label(
        line=line,
        labels=labels,
        job_id=found["job_id"],
        key=doc_key(found["key"]),
        filename=found["filename"],
    )


def read_labels(lines: Iterable[str]) -> list[Label]:
    """Every label of a labels file's lines (numbered from 1; blank lines skipped)."""
    labels = []
    for number, text in enumerate(lines, start=1):
        label = parse_label(text, number)
        if label is not None:
            labels.append(label)
    return labels


@dataclass
class ResultIndex:
    """The result lines some label can match, by job id, key and file name.

    Only those are kept, so a batch of a million results costs the labels' worth of memory.
    """

    labels: list[Label]
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_filename: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = {x.job_id for x in self.labels if x.job_id}
        self._keys = {doc_key(x.key) for x in self.labels if x.key}
        self._filenames = {x.filename for x in self.labels if x.filename}

    def add(self, result: Mapping[str, Any]) -> None:
        """Keep one result line if a label could match it."""
        line = dict(result)
        job_id, key, filename = str(line.get("id")), doc_key(line.get("key")), line.get("filename")
        if job_id in self._ids:
            self.by_id.setdefault(job_id, line)
        if key is not None and key in self._keys:
            self.by_key.setdefault(key, line)
        if isinstance(filename, str) and filename in self._filenames:
            self.by_filename.setdefault(filename, []).append(line)

    def match(self, label: Label) -> tuple[dict[str, Any] | None, str]:
        """The label's result line and how it was found, or None and why none was."""
        if label.job_id and label.job_id in self.by_id:
            return self.by_id[label.job_id], "job_id"
        key = doc_key(label.key)
        if key and key in self.by_key:
            return self.by_key[key], "key"
        same_name = self.by_filename.get(label.filename or "", [])
        if len(same_name) == 1:
            return same_name[0], "filename"
        if len(same_name) > 1:
            return None, f"{len(same_name)} results have this filename"
        return None, "no result in the batch"


@dataclass(frozen=True)
class Matched:
    """Each label with its result line, and the labels no result line matched."""

    pairs: list[tuple[Label, dict[str, Any]]]
    missing: list[dict[str, Any]]


def match_labels(labels: list[Label], results: Iterable[Mapping[str, Any]]) -> Matched:
    """Match labels to a batch's result lines (read once, as they stream)."""
    index = ResultIndex(labels)
    for result in results:
        index.add(result)
    pairs, missing = [], []
    for label in labels:
        found, how = index.match(label)
        if found is None:
            missing.append({**label.ident(), "reason": how})
        else:
            pairs.append((label, found))
    return Matched(pairs=pairs, missing=missing)
