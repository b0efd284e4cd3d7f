"""Scores per field over a batch: accuracy of each labelled field, and overall.

A field is a JSON Pointer into the result (`/vendor/name`); a list is one field whatever
its length (`/line_items`, scored by set F1), so its pointer has no index. A field's
accuracy is its mean score over the documents that label it; `overall` is the mean over
every labelled field of every matched document (each scored value counts once).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scripts.evals.labels import Label, Matched
from scripts.evals.schema_rules import kind, pointer
from scripts.evals.scoring import MISSING, Scorer

if TYPE_CHECKING:
    from rich.table import Table

MISSING_SHOWN = 20  # missing labels listed by the table's text; the JSON has them all


def field_scores(
    scorer: Scorer,
    node: Mapping[str, Any],
    label: Mapping[str, Any],
    predicted: Any,
    parts: tuple[str, ...] = (),
) -> Iterator[tuple[str, str, float]]:
    """(pointer, rule, score) for every labelled leaf of `label` against `predicted`.

    Objects are walked into; a list, a scalar and a null are leaves. An empty object
    labels nothing.
    """
    for key, value in label.items():
        child = scorer.view.field(node, key)
        got = predicted.get(key, MISSING) if isinstance(predicted, dict) else MISSING
        at = (*parts, key)
        if isinstance(value, dict) and kind(child) in (None, "object"):
            yield from field_scores(scorer, child, value, got, at)
            continue
        rule, score = scorer.score(child, value, got)
        yield pointer(at), rule, score


@dataclass
class FieldTally:
    """The scores one field got."""

    rule: str
    count: int = 0
    total: float = 0.0

    @property
    def accuracy(self) -> float:
        """The mean score (0 before any)."""
        return self.total / self.count if self.count else 0.0


@dataclass
class Report:
    """What `docqueue eval` found for one batch."""

    batch_id: str
    documents: int  # label lines
    matched: int
    missing: list[dict[str, Any]]
    fields: dict[str, FieldTally] = field(default_factory=dict)
    not_succeeded: int = 0  # matched jobs without a result: their labelled fields score 0

    @property
    def overall(self) -> float:
        """The mean score over every scored value (0 if none was)."""
        count = sum(t.count for t in self.fields.values())
        return sum(t.total for t in self.fields.values()) / count if count else 0.0

    def add(self, pointer_: str, rule: str, score: float) -> None:
        """Count one scored value."""
        tally = self.fields.setdefault(pointer_, FieldTally(rule=rule))
        tally.count += 1
        tally.total += score

    def to_json(self) -> dict[str, Any]:
        """The report as `--json` writes it."""
        return {
            "batch_id": self.batch_id,
            "documents": self.documents,
            "matched": self.matched,
            "missing": self.missing,
            "fields": {
                p: {"rule": t.rule, "count": t.count, "accuracy": t.accuracy}
                for p, t in sorted(self.fields.items())
            },
            "overall": self.overall,
        }


def evaluate(batch_id: str, labels: list[Label], matched: Matched, scorer: Scorer) -> Report:
    """Score every matched label against its result line."""
    report = Report(
        batch_id=batch_id,
        documents=len(labels),
        matched=len(matched.pairs),
        missing=matched.missing,
    )
    root = scorer.view.top()
    for label, line in matched.pairs:
        # The model's answer, not a reviewer's correction of it: labels exported from this
        # very batch would otherwise score the reviewers against themselves.
        result = line.get("original_result") or line.get("result")
        if line.get("status") != "succeeded" or not isinstance(result, dict):
            report.not_succeeded += 1
        for at, rule, score in field_scores(scorer, root, label.labels, result):
            report.add(at, rule, score)
    return report


def caption(report: Report) -> str:
    """What was scored: documents matched, missing, and jobs that had no result."""
    text = f"{report.matched} of {report.documents} labelled documents matched a result"
    if report.missing:
        text += f", {len(report.missing)} missing"
    if report.not_succeeded:
        text += f"; {report.not_succeeded} matched job(s) did not succeed (their fields score 0)"
    return text


def missing_lines(report: Report) -> list[str]:
    """One line per missing label (the first MISSING_SHOWN), and how many more there are."""
    lines = []
    for item in report.missing[:MISSING_SHOWN]:
        names = ", ".join(f"{k} {item[k]}" for k in ("job_id", "key", "filename") if k in item)
        lines.append(f"missing: line {item['line']} ({names}): {item['reason']}")
    if len(report.missing) > MISSING_SHOWN:
        lines.append(f"... and {len(report.missing) - MISSING_SHOWN} more (see --json)")
    return lines


def percent(value: float) -> str:
    """0.875 as `87.5%`."""
    return f"{value:.1%}"


def report_table(report: Report) -> Table:
    """The per-field accuracies as a rich table, the overall accuracy last."""
    from rich.table import Table

    table = Table(title=f"accuracy of batch {report.batch_id}", caption=caption(report))
    table.add_column("field", overflow="fold")
    table.add_column("rule")
    table.add_column("labelled", justify="right")
    table.add_column("accuracy", justify="right")
    for at, tally in sorted(report.fields.items()):
        table.add_row(at, tally.rule, str(tally.count), percent(tally.accuracy))
    table.add_section()
    scored = sum(t.count for t in report.fields.values())
    table.add_row("overall", "", str(scored), percent(report.overall), style="bold")
    return table
