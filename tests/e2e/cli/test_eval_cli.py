"""`docqueue eval` as a real subprocess against the shared live stack.

The labels are the batch's own results, fetched back, with a known set of fields changed
so that no extraction could match them: the expected accuracy is then exact whatever the
simulator answered. A built-in extractor (invoice) and a tenant's (every rule) are scored.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.client import Client
from tests.support.cli import ok, run_docqueue
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant

pytestmark = pytest.mark.e2e

STATUSES = ["open", "shipped", "delivered", "returned"]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A delivery note: who, what, when and how much.",
    "properties": {
        "reference": {"type": "string", "description": "The note's reference."},
        "status": {"type": "string", "enum": STATUSES, "description": "Where it stands."},
        "delivered_on": {"type": "string", "format": "date", "description": "The day."},
        "parcels": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "Parcels."},
        "signed": {"type": "boolean", "description": "Whether the recipient signed."},
        "weight_kg": {"type": "number", "minimum": 0, "maximum": 100000, "description": "kg."},
        "recipient": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "Who received it."},
                "city": {"type": "string", "description": "Where."},
            },
            "required": ["name", "city"],
            "additionalProperties": False,
            "description": "The recipient.",
        },
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "items": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "description": "Article number."},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 99},
                },
                "required": ["sku", "quantity"],
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
SCHEMA["required"] = list(SCHEMA["properties"])
NOTE = (
    "Delivery note DN-{i}\nRecipient: Ana Ruiz, Porto\nDelivered: 2026-03-0{day}\n"
    "Parcels: {i}\nWeight: {i}.5 kg\nSigned: yes\nSKU A-{i} x 2"
)
NEVER = "zz-never-in-any-document"


Changes = dict[str, Callable[[dict[str, Any]], Any]]


@dataclass(frozen=True)
class Case:
    """The fields labelled (with their rules) and, per document, the fields changed.

    Each change makes a label no extraction of these documents can match: a value moved
    past any tolerance, a text or list of items no document holds.
    """

    rules: dict[str, str]
    changes: list[Changes]


def later(day: str) -> str:
    """An ISO date 400 days after `day`."""
    return (dt.date.fromisoformat(day) + dt.timedelta(days=400)).isoformat()


def other(status: str) -> str:
    """An enum value that is not `status`."""
    return next(s for s in STATUSES if s != status)


NOTE_CASE = Case(
    rules={
        "/delivered_on": "date",
        "/items": "set_f1",
        "/parcels": "exact",
        "/recipient/city": "string",
        "/recipient/name": "string",
        "/reference": "string",
        "/signed": "exact",
        "/status": "exact",
        "/tags": "set_f1",
        "/weight_kg": "number",
    },
    changes=[
        {"/weight_kg": lambda r: r["weight_kg"] + 1000, "/status": lambda r: other(r["status"])},
        {"/delivered_on": lambda r: later(r["delivered_on"]), "/recipient/name": lambda r: NEVER},
        {"/signed": lambda r: not r["signed"], "/tags": lambda r: [NEVER]},
        {
            "/parcels": lambda r: r["parcels"] + 1,
            "/items": lambda r: [{"sku": NEVER, "quantity": 1}],
        },
    ],
)


def resolve(result: dict[str, Any], at: str) -> Any:
    """The value at a (non-list) JSON Pointer of `result`."""
    value: Any = result
    for key in at.strip("/").split("/"):
        value = value[key]
    return value


def labelled(result: dict[str, Any], pointers: Iterable[str], changes: Changes) -> dict[str, Any]:
    """The fields at `pointers` of `result`, those in `changes` changed: one label object."""
    labels: dict[str, Any] = {}
    for at in pointers:
        *parents, leaf = at.strip("/").split("/")
        target = labels
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = changes[at](result) if at in changes else resolve(result, at)
    return labels


def score_batch(
    live: LiveStack, tmp_path: Path, *, tenant: Tenant, schema: str, texts: list[str], case: Case
) -> None:
    """Submit `texts`, label the results with `case`'s changes, and check `docqueue eval`."""
    tag = uuid.uuid4().hex[:8]
    docs = [
        {"text": text, "key": f"{tag}-{i}", "filename": f"{tag}-{i}.txt"}
        for i, text in enumerate(texts)
    ]
    with Client(live.api_url, tenant.api_key) as dq:
        batch_id = str(dq.submit_batch(docs, schema=schema, tier="low")["id"])
        dq.wait_batch(batch_id, timeout_s=120)
        results = {line["key"]: line for line in dq.results(batch_id)}
    firsts = [results[d["key"]] for d in docs]
    assert [r["status"] for r in firsts] == ["succeeded"] * len(docs), [r["error"] for r in firsts]

    by = [
        {"job_id": firsts[0]["id"]},
        {"job_id": str(uuid.uuid4()), "key": docs[1]["key"]},  # a stale job id: the key finds it
        {"filename": docs[2]["filename"]},
        {"key": docs[3]["key"]},
    ]
    lines = [
        {**ident, "labels": labelled(line["result"], case.rules, changes)}
        for ident, line, changes in zip(by, firsts, case.changes, strict=True)
    ]
    lines.append({"key": f"{tag}-absent", "labels": {"anything": "at all"}})
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "report.json"

    done = run_docqueue(live, tenant, "eval", str(labels), "--batch", batch_id, "--json", str(out))
    stdout = ok(done)

    changed = [at for changes in case.changes for at in changes]
    assert len(set(changed)) == len(changed)  # each changed field is wrong in one document
    n, fields = len(docs), len(case.rules)
    assert json.loads(out.read_text()) == {
        "batch_id": batch_id,
        "documents": n + 1,
        "matched": n,
        "missing": [{"line": n + 1, "key": f"{tag}-absent", "reason": "no result in the batch"}],
        "fields": {
            at: {"rule": rule, "count": n, "accuracy": (n - 1) / n if at in changed else 1.0}
            for at, rule in sorted(case.rules.items())
        },
        "overall": (n * fields - len(changed)) / (n * fields),
    }
    assert f"{(n * fields - len(changed)) / (n * fields):.1%}" in stdout
    assert f"missing: line {n + 1} (key {tag}-absent)" in done.stderr


INVOICE = (
    "ACME Tools GmbH, Hauptstrasse {i}, Berlin. Invoice INV-20{i}1 dated 2026-03-0{day}.\n"
    "Bill to: Globex Corp. {i} x hammer at 12.50 EUR, 2 x saw at 30.00 EUR."
)
INVOICE_CASE = Case(
    rules={
        "/vendor/name": "string",
        "/invoice_number": "string",
        "/issue_date": "date",
        "/line_items": "set_f1",
        "/subtotal": "number",
        "/tax": "number",
        "/total": "number",
        "/currency": "string",
    },
    changes=[
        {"/total": lambda r: r["total"] + 1000, "/vendor/name": lambda r: NEVER},
        {"/issue_date": lambda r: later(r["issue_date"]), "/currency": lambda r: NEVER},
        {"/line_items": lambda r: [{"description": NEVER}], "/invoice_number": lambda r: NEVER},
        {"/subtotal": lambda r: r["subtotal"] - 1000, "/tax": lambda r: r["tax"] + 0.5},
    ],
)


def test_eval_scores_a_built_in_extractors_batch_exactly(live: LiveStack, tmp_path: Path) -> None:
    tenant = live.tenant("cli-eval-invoice")
    texts = [INVOICE.format(i=i + 1, day=i + 1) for i in range(4)]
    score_batch(live, tmp_path, tenant=tenant, schema="invoice", texts=texts, case=INVOICE_CASE)


def test_eval_scores_a_tenant_extractor_by_every_rule_exactly(
    live: LiveStack, tmp_path: Path
) -> None:
    tenant = live.tenant("cli-eval-tenant")
    with Client(live.api_url, tenant.api_key) as dq:
        created, _ = dq.create_extractor(
            {"name": "delivery_note", "description": "Delivery notes", "json_schema": SCHEMA}
        )
    assert created
    texts = [NOTE.format(i=i, day=i + 1) for i in range(4)]
    score_batch(live, tmp_path, tenant=tenant, schema="delivery_note", texts=texts, case=NOTE_CASE)
