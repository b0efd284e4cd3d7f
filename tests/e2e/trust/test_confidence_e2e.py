"""Confidence catches what the simulator invents: 300 documents, 10% of fields hallucinated.

Real API, scheduler, workers, Postgres, Redis and the simulator, which grounds each field
in a "Label: value" line of the document and, at the rate a directive asks, answers a
field with an invented value and quote, or with a real quote and a wrong value.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from schemas.config import get_settings
from storage.models import Job
from tests.support.stacks import LiveStack
from tests.support.waits import wait_batch, wait_job

pytestmark = pytest.mark.e2e

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "policy_number": {"type": "string", "pattern": "^PN-[0-9]{5}$"},
        "holder_name": {"type": "string", "maxLength": 80},
        "claim_date": {"type": "string", "format": "date"},
        "amount": {"type": "number", "minimum": 0},
        "city": {"type": "string"},
        "status": {"enum": ["open", "closed", "pending"]},
    },
    "required": ["policy_number", "holder_name", "claim_date", "amount", "city", "status"],
    "additionalProperties": False,
}
NAMES = ("Dana Whitfield", "Omar Haddad", "Lena Kowalski", "Ravi Menon", "Ines Duarte")
CITIES = ("Springfield", "Riverton", "Lakeside", "Fairview", "Brookfield", "Ashland")
DOCUMENTS = 300


def _truth(rng: random.Random) -> dict[str, Any]:
    return {
        "policy_number": f"PN-{rng.randint(10000, 99999)}",
        "holder_name": rng.choice(NAMES),
        "claim_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "amount": round(rng.uniform(100, 9000), 2),
        "city": rng.choice(CITIES),
        "status": rng.choice(("open", "closed", "pending")),
    }


def _document(truth: dict[str, Any], index: int) -> str:
    return (
        f"Claim notice {index}\n"
        f"Policy number: {truth['policy_number']}\n"
        f"Holder name: {truth['holder_name']}\n"
        f"Claim date: {truth['claim_date']}\n"
        f"Amount: {truth['amount']:,.2f}\n"
        f"City: {truth['city']}\n"
        f"Status: {truth['status']}\n"
        "[[sim:hallucinate=0.1]]\n"
    )


def auroc(positives: list[float], negatives: list[float]) -> float:
    """P(a random positive scores above a random negative), ties counted half."""
    wins = 0.0
    ordered = sorted(negatives)
    for score in positives:
        below = sum(1 for n in ordered if n < score)
        ties = sum(1 for n in ordered if n == score)
        wins += below + ties / 2
    return wins / (len(positives) * len(negatives))


@pytest.mark.faults  # slow: `make test-faults`
def test_confidence_separates_hallucinated_fields_from_correct_ones(live: LiveStack) -> None:
    rng = random.Random(20261201)
    truths = [_truth(rng) for _ in range(DOCUMENTS)]
    name = f"claims_{uuid.uuid4().hex[:6]}"
    with live.client(timeout=120) as client:
        made = client.post(
            "/v1/extractors", json={"name": name, "description": "Claims", "json_schema": SCHEMA}
        )
        assert made.status_code == 201, made.text
        docs = [
            {"text": _document(t, i), "filename": f"claim-{i}.txt", "key": f"c{i}"}
            for i, t in enumerate(truths)
        ]
        created = client.post(
            "/v1/batches", json={"schema": name, "tier": "low", "documents": docs}
        )
        assert created.status_code == 202, created.text
        batch_id = created.json()["id"]
        summary = wait_batch(client, batch_id, timeout=240)
    assert summary["counts"].get("succeeded") == DOCUMENTS, summary
    with live.session() as session:
        jobs = session.query(Job).filter(Job.batch_id == uuid.UUID(batch_id)).all()
        rows = [(j.filename, j.result, j.evidence, j.review_state) for j in jobs]
    right: list[float] = []
    wrong: list[float] = []
    for filename, result, evidence, _state in rows:
        truth = truths[int(str(filename).removeprefix("claim-").removesuffix(".txt"))]
        by_path = {f["path"]: f for f in evidence or []}
        assert result is not None
        for key, true_value in truth.items():
            field = by_path[f"/{key}"]
            assert field["value"] == result[key]
            (right if result[key] == true_value else wrong).append(field["confidence"])
    threshold = get_settings().app.trust.review_threshold
    area = auroc(right, wrong)  # correct fields are the positives: they should score higher
    flagged_wrong = sum(c < threshold for c in wrong) / len(wrong)
    flagged_right = sum(c < threshold for c in right) / len(right)
    share = len(wrong) / (len(right) + len(wrong))
    print(
        f"\nfields: {len(right)} correct, {len(wrong)} hallucinated ({share:.1%}); "
        f"AUROC {area:.3f}; flagged at {threshold}: {flagged_wrong:.1%} of hallucinated, "
        f"{flagged_right:.1%} of correct"
    )
    assert 0.05 < share < 0.15  # the simulator did hallucinate, at about the rate asked
    assert area >= 0.9
    assert flagged_wrong >= 0.95
    assert flagged_right <= 0.10
    pending = sum(state == "pending" for *_, state in rows)
    assert pending == sum(
        any(f["confidence"] < threshold for f in evidence or []) for _, _, evidence, _ in rows
    )


def test_a_licence_sent_to_the_invoice_extractor_ends_document_mismatch(live: LiveStack) -> None:
    licence = (
        "END USER LICENCE AGREEMENT\n"
        "This licence grants the licensee a non-exclusive right to use the software on one "
        "workstation. The licensor retains all intellectual property rights. [[sim:mismatch]]"
    )
    with live.client() as client:
        made = client.post("/v1/jobs", json={"schema": "invoice", "text": licence, "tier": "low"})
        assert made.status_code == 202, made.text
        job_id = made.json()["id"]
        job = wait_job(client, job_id)
    assert job["status"] == "failed"
    assert job["error"]["type"] == "document_mismatch"
    assert "invoice" in job["error"]["message"]
    assert job["result"] is None
    assert job["document_fit"]["fits"] is False
    assert float(job["usage"]["cost_usd"]) > 0  # the call that found out is billed
