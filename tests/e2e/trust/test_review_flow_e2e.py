"""From a doubtful extraction to a corrected export: review end to end, and a second sample.

Real API, scheduler, workers, Postgres, Redis and simulator: the doubt is the simulator's
own invention (`[[sim:hallucinate=1]]`), found by the evidence check, not seeded rows.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from storage.models import LlmCall
from tests.e2e.trust.test_confidence_e2e import SCHEMA
from tests.support.stacks import LiveStack
from tests.support.waits import wait_for, wait_job

pytestmark = pytest.mark.e2e

TRUE = {"policy_number": "PN-77120", "amount": 880.25}
TEXT = (
    "Claim notice\nPolicy number: PN-77120\nHolder name: Omar Haddad\nClaim date: 2026-05-04\n"
    "Amount: 880.25\nCity: Riverton\nStatus: pending\n"
)


def _extractor(client: httpx.Client) -> str:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    made = client.post(
        "/v1/extractors", json={"name": name, "description": "Claims", "json_schema": SCHEMA}
    )
    assert made.status_code == 201, made.text
    return name


def _batch(client: httpx.Client, schema: str, text: str, **extra: Any) -> str:
    body = {"schema": schema, "tier": "low", "documents": [{"text": text, "key": "k1"}], **extra}
    created = client.post("/v1/batches", json=body)
    assert created.status_code == 202, created.text
    batch_id = str(created.json()["id"])
    wait_for(lambda: client.get(f"/v1/batches/{batch_id}").json().get("finished_at"), timeout=90)
    return batch_id


def test_an_invented_answer_is_reviewed_corrected_audited_and_exported(live: LiveStack) -> None:
    with live.client() as client:
        name = _extractor(client)
        batch_id = _batch(client, name, TEXT + "[[sim:hallucinate=1]]\n")
        batch = client.get(f"/v1/batches/{batch_id}").json()
        assert batch["review"]["pending"] == 1
        queue = client.get("/v1/review", params={"batch_id": batch_id}).json()
        assert queue["pending"] == 1
        item = queue["items"][0]
        job_id = item["job_id"]
        low = [f for f in item["fields"] if f["confidence"] < 0.6]
        assert {f["path"] for f in low} >= {"/policy_number", "/amount"}
        assert item["result"]["policy_number"] != TRUE["policy_number"]  # it was invented

        bad = client.post(f"/v1/jobs/{job_id}/review", json={"corrections": {"/amount": "lots"}})
        assert bad.status_code == 422, bad.text
        assert bad.json()["error"]["type"] == "correction_invalid"
        assert "/amount" in bad.json()["error"]["message"]

        fixes = {"/policy_number": TRUE["policy_number"], "/amount": TRUE["amount"]}
        done = client.post(f"/v1/jobs/{job_id}/review", json={"corrections": fixes})
        assert done.status_code == 200, done.text
        job = done.json()
        assert job["review_state"] == "corrected"
        assert job["result"]["policy_number"] == TRUE["policy_number"]
        assert job["original_result"]["policy_number"] == item["result"]["policy_number"]
        assert job["result_version"] == 2
        trail = client.get(f"/v1/jobs/{job_id}/reviews").json()["data"]
        assert len(trail) == 1
        assert trail[0]["corrections"]["/amount"] == {
            "before": item["result"]["amount"],
            "after": TRUE["amount"],
        }
        lines = [
            json.loads(line)
            for line in client.get(f"/v1/batches/{batch_id}/results").text.splitlines()
            if line.strip()
        ]
        assert client.get("/v1/review", params={"batch_id": batch_id}).json()["pending"] == 0
    assert len(lines) == 1
    assert lines[0]["result"]["amount"] == TRUE["amount"]
    assert lines[0]["original_result"]["amount"] == item["result"]["amount"]
    assert lines[0]["review_state"] == "corrected"
    other = live.tenant(f"mallory-{uuid.uuid4().hex[:6]}")
    with live.client(other) as client:
        stolen = client.post(f"/v1/jobs/{job_id}/review", json={"approve": True})
        assert stolen.status_code == 404
        assert stolen.json()["error"]["type"] == "not_found"
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404
        assert client.get("/v1/review").json()["pending"] == 0


def test_self_consistency_asks_twice_bills_both_and_lowers_disagreeing_fields(
    live: LiveStack,
) -> None:
    with live.client() as client:
        name = _extractor(client)
        text = TEXT + "[[sim:hallucinate=0.5]]\n"
        made = client.post(
            "/v1/jobs",
            json={"schema": name, "tier": "low", "text": text, "verify": "self_consistency"},
        )
        assert made.status_code == 202, made.text
        job = wait_job(client, made.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    with live.session() as session:
        calls, cost = session.execute(
            select(func.count(), func.sum(LlmCall.cost_usd)).where(
                LlmCall.job_id == uuid.UUID(job["id"])
            )
        ).one()
    assert calls == 2  # the answer and the independent second sample
    assert float(cost) == pytest.approx(float(job["usage"]["cost_usd"]))
    factors = {f["path"]: f["signals"]["consistency"] for f in job["fields"]}
    assert 0.5 in factors.values()  # the samples disagreed somewhere ...
    assert 1.0 in factors.values()  # ... and agreed elsewhere
