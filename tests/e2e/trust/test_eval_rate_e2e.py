"""`docqueue eval` measures exactly the error rate the simulator was told to inject.

The documents state every field as "Label: value"; the simulator reads them back and, at
`[[sim:hallucinate=RATE]]`, replaces the values `scripts.simulator.hallucinate.decide`
picks. The labels are the documents' true values, so each field's accuracy must be one
minus the share of documents `decide` picked for it: no more, no less.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from scripts.simulator.hallucinate import decide, value_key
from tests.support.cli import ok, run_docqueue
from tests.support.stacks import LiveStack
from tests.support.waits import wait_for

pytestmark = pytest.mark.e2e

RATE = 0.25
DOCUMENTS = 60
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reference": {"type": "string"},
        "recipient": {"type": "string"},
        "delivered_on": {"type": "string", "format": "date"},
        "weight_kg": {"type": "number"},
    },
    "required": ["reference", "recipient", "delivered_on", "weight_kg"],
    "additionalProperties": False,
}
PEOPLE = ("Ana Ruiz", "Tomas Berg", "Mei Lin", "Kofi Mensah", "Sara Novak", "Luca Bianchi")


def _truth(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "reference": f"DN-{index:04d}-{rng.randint(100, 999)}",
        "recipient": rng.choice(PEOPLE),
        "delivered_on": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "weight_kg": round(rng.uniform(1, 900), 1),
    }


def _document(truth: dict[str, Any]) -> str:
    return (
        f"Delivery note\nReference: {truth['reference']}\nRecipient: {truth['recipient']}\n"
        f"Delivered on: {truth['delivered_on']}\nWeight kg: {truth['weight_kg']}\n"
        f"[[sim:hallucinate={RATE}]]\n"
    )


def test_eval_reports_the_accuracy_the_injected_error_rate_implies(
    live: LiveStack, tmp_path: Path
) -> None:
    rng = random.Random(7)
    truths = [_truth(rng, i) for i in range(DOCUMENTS)]
    name = f"notes_{uuid.uuid4().hex[:6]}"
    tenant = live.alice
    with live.client(timeout=120) as client:
        made = client.post(
            "/v1/extractors", json={"name": name, "description": "Notes", "json_schema": SCHEMA}
        )
        assert made.status_code == 201, made.text
        docs = [{"text": _document(t), "key": f"n{i}"} for i, t in enumerate(truths)]
        created = client.post(
            "/v1/batches", json={"schema": name, "tier": "low", "documents": docs}
        )
        assert created.status_code == 202, created.text
        batch_id = created.json()["id"]
        wait_for(
            lambda: client.get(f"/v1/batches/{batch_id}").json().get("finished_at"), timeout=180
        )
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(json.dumps({"key": f"n{i}", "labels": t}) + "\n" for i, t in enumerate(truths))
    )
    out = tmp_path / "report.json"
    ok(run_docqueue(live, tenant, "eval", str(labels), "--batch", batch_id, "--json", str(out)))
    report = json.loads(out.read_text())
    assert report["matched"] == DOCUMENTS
    injected = 0
    for key in SCHEMA["properties"]:
        picked = sum(decide(f"/{key}", value_key(t[key]), RATE) is not None for t in truths)
        injected += picked
        expected = (DOCUMENTS - picked) / DOCUMENTS
        assert report["fields"][f"/{key}"]["accuracy"] == pytest.approx(expected), key
    assert 0 < injected < DOCUMENTS * len(SCHEMA["properties"])  # some, not all, were altered
    assert report["overall"] == pytest.approx(1 - injected / (DOCUMENTS * 4))
