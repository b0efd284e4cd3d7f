"""Tenant extractors end to end: real API, scheduler, workers, Postgres, Redis and simulator."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any, TypeGuard

import httpx
import pytest
from jsonschema import Draft202012Validator

from storage.models import Job
from tests.support.stacks import LiveStack
from tests.support.waits import wait_for, wait_job
from tests.unit.extractors.test_check import REFUSED

pytestmark = pytest.mark.e2e

CLAIMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "claim_number": {"type": "string", "pattern": "^CLM-[0-9]{6}$"},
        "incident_date": {"type": "string", "format": "date"},
        "claimant_email": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}]},
        "kind": {"enum": ["auto", "home", "health", "travel"]},
        "amount": {"type": "number", "minimum": 0, "maximum": 1_000_000},
        "items": {
            "type": "array",
            "maxItems": 5,
            "items": {"$ref": "#/$defs/item"},
        },
        "narrative": {"type": "string", "maxLength": 400, "x-docqueue-merge": "summary"},
    },
    "required": ["claim_number", "incident_date", "kind", "amount", "items", "narrative"],
    "additionalProperties": False,
    "$defs": {
        "item": {
            "type": "object",
            "properties": {
                "label": {"type": "string", "minLength": 1, "maxLength": 60},
                "cost": {"type": "number", "exclusiveMinimum": 0},
            },
            "required": ["label", "cost"],
            "additionalProperties": False,
        }
    },
}
CLAIM_TEXT = (
    "Claim form {i}. Claimant Dana Whitfield reports water damage in the kitchen after a "
    "pipe burst on 2026-03-{day:02d}. Items: cabinet repair, flooring, dehumidifier rental. "
    "Policy holder since 2019; adjuster visit requested."
)


def _extractor(name: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "Insurance claim forms", "json_schema": schema} | extra


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    # An independent check: stock jsonschema with its format checker, not docqueue's model.
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _batch(client: httpx.Client, schema: str, n: int, tag: str) -> str:
    docs = [
        {"text": CLAIM_TEXT.format(i=i, day=i % 28 + 1), "filename": f"{tag}/claim-{i}.txt"}
        for i in range(n)
    ]
    created = client.post("/v1/batches", json={"schema": schema, "tier": "low", "documents": docs})
    assert created.status_code == 202, created.text
    return str(created.json()["id"])


def _finished(client: httpx.Client, batch_id: str, timeout: float = 120) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/v1/batches/{batch_id}").json()
        return body if body.get("finished_at") else None

    found: dict[str, Any] = wait_for(done, timeout=timeout)
    return found


def _results(client: httpx.Client, batch_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/batches/{batch_id}/results")
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines() if line.strip()]


def test_an_extractor_is_versioned_by_content(live: LiveStack) -> None:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    with live.client() as client:
        first = client.post("/v1/extractors", json=_extractor(name, CLAIMS))
        assert first.status_code == 201, first.text
        assert first.json()["version"] == 1
        again = client.post("/v1/extractors", json=_extractor(name, CLAIMS))
        assert again.status_code == 200
        assert again.json()["version"] == 1
        changed = client.post("/v1/extractors", json=_extractor(name, CLAIMS, instructions="x"))
        assert changed.status_code == 201
        assert changed.json()["version"] == 2
        shown = client.get(f"/v1/extractors/{name}").json()
        assert [v["version"] for v in shown["versions"]] == [1, 2]
        assert shown["latest_version"] == 2
        one = client.get(f"/v1/extractors/{name}/versions/1").json()
        assert one["json_schema"] == CLAIMS
        assert one["instructions"] is None
        listed = {e["name"]: e for e in client.get("/v1/extractors").json()["data"]}
        assert listed[name]["owner"] == "tenant"
        assert {"invoice", "document_summary", "contract", "resume"} <= set(listed)
        assert listed["invoice"]["owner"] == "system"


def test_twenty_documents_through_a_tenant_extractor_all_validate_against_its_schema(
    live: LiveStack,
) -> None:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    with live.client() as client:
        version = client.post("/v1/extractors", json=_extractor(name, CLAIMS)).json()
        batch_id = _batch(client, name, 20, name)
        summary = _finished(client, batch_id)
        assert summary["counts"].get("succeeded") == 20, summary
        results = _results(client, batch_id)
    validator = _validator(CLAIMS)
    assert len(results) == 20
    for line in results:
        errors = [e.message for e in validator.iter_errors(line["result"])]
        assert errors == [], (line["result"], errors)
    with live.session() as session:
        jobs = session.query(Job).filter(Job.batch_id == uuid.UUID(batch_id)).all()
        assert {j.schema_hash for j in jobs} == {version["schema_hash"]}
        assert {j.prompt_hash for j in jobs} == {version["prompt_hash"]}
        assert {j.schema_version for j in jobs} == {"1"}
        assert all(j.extractor_version_id is not None for j in jobs)


def test_a_pinned_version_keeps_being_used_after_a_newer_one_exists(live: LiveStack) -> None:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    newer = copy.deepcopy(CLAIMS)
    newer["properties"]["adjuster"] = {"type": "string", "maxLength": 80}
    with live.client() as client:
        client.post("/v1/extractors", json=_extractor(name, CLAIMS))
        client.post("/v1/extractors", json=_extractor(name, newer))
        text = CLAIM_TEXT.format(i=1, day=3)
        pinned = client.post("/v1/jobs", json={"schema": f"{name}@1", "text": text})
        latest = client.post("/v1/jobs", json={"schema": name, "text": text + " Latest."})
        assert pinned.status_code == 202, pinned.text
        old = wait_job(client, pinned.json()["id"])
        new = wait_job(client, latest.json()["id"])
    assert (old["status"], old["schema_version"]) == ("succeeded", "1")
    assert (new["status"], new["schema_version"]) == ("succeeded", "2")
    assert "adjuster" not in old["result"]
    assert _validator(CLAIMS).is_valid(old["result"])
    assert "adjuster" in new["result"]
    assert _validator(newer).is_valid(new["result"])


def test_a_rerun_with_a_new_version_and_its_diff_report_the_added_field(live: LiveStack) -> None:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    newer = copy.deepcopy(CLAIMS)
    newer["properties"]["adjuster"] = {"type": "string", "maxLength": 80}
    newer["required"] = [*CLAIMS["required"], "adjuster"]
    with live.client() as client:
        client.post("/v1/extractors", json=_extractor(name, CLAIMS))
        first = _batch(client, name, 6, name)
        _finished(client, first)
        client.post("/v1/extractors", json=_extractor(name, newer))
        rerun = client.post(f"/v1/batches/{first}/rerun", json={"schema": f"{name}@2"})
        assert rerun.status_code == 201, rerun.text
        second = rerun.json()["id"]
        assert rerun.json()["total"] == 6
        assert _finished(client, second)["counts"].get("succeeded") == 6
        diff = client.get(f"/v1/batches/{second}/diff", params={"against": first})
        assert diff.status_code == 200, diff.text
        summary = client.get(
            f"/v1/batches/{second}/diff", params={"against": first, "format": "summary"}
        ).json()
    assert summary["compared"] == 6
    assert summary["fields"]["adjuster"]["added"] == 6
    assert "document" in diff.text
    with live.session() as session:
        # the rerun stored no document again: both batches point at the same texts
        shas = [
            {j.document_sha256 for j in session.query(Job).filter(Job.batch_id == uuid.UUID(b))}
            for b in (first, second)
        ]
    assert shas[0] == shas[1]


def test_another_tenant_can_neither_see_use_nor_infer_into_an_extractor(live: LiveStack) -> None:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    with live.client() as alice:
        assert alice.post("/v1/extractors", json=_extractor(name, CLAIMS)).status_code == 201
    with live.client(live.bob) as bob:
        assert bob.get(f"/v1/extractors/{name}").status_code == 404
        assert bob.get(f"/v1/extractors/{name}/versions/1").status_code == 404
        assert bob.delete(f"/v1/extractors/{name}").status_code == 404
        assert name not in {e["name"] for e in bob.get("/v1/extractors").json()["data"]}
        used = bob.post("/v1/jobs", json={"schema": name, "text": "Claim CLM-000001."})
        assert used.status_code == 422
        assert used.json()["error"]["type"] == "unknown_schema"
        inferred = bob.post(
            "/v1/extractors/infer", json={"samples": [{"text": "Claim."}], "base": name}
        )
        assert inferred.status_code == 422
        assert inferred.json()["error"]["type"] == "unknown_schema"


def test_an_archived_extractor_refuses_new_jobs_and_keeps_old_results(live: LiveStack) -> None:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    with live.client() as client:
        client.post("/v1/extractors", json=_extractor(name, CLAIMS))
        job = client.post("/v1/jobs", json={"schema": name, "text": CLAIM_TEXT.format(i=9, day=9)})
        done = wait_job(client, job.json()["id"])
        archived = client.delete(f"/v1/extractors/{name}")
        assert archived.status_code == 200
        assert archived.json()["archived"] is True
        refused = client.post("/v1/jobs", json={"schema": name, "text": "Claim again."})
        assert refused.status_code == 422
        assert refused.json()["error"]["type"] == "extractor_archived"
        kept = client.get(f"/v1/jobs/{done['id']}")
        assert kept.status_code == 200
        assert kept.json()["result"] == done["result"]
        builtin = client.delete("/v1/extractors/invoice")
        assert builtin.status_code == 422


def _sendable(schema: object) -> TypeGuard[dict[str, Any]]:
    """A refused case JSON can carry to the API (no sets, NaN or 10,000 levels)."""
    try:
        text = json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return isinstance(schema, dict) and text.count("[") + text.count("{") < 60


def test_every_refused_schema_is_a_422_schema_invalid_at_its_pointer(live: LiveStack) -> None:
    cases = [(name, s, pointer) for name, s, pointer, _ in REFUSED if _sendable(s)]
    assert len(cases) >= 15
    with live.client() as client:
        for name, schema, pointer in cases:
            answer = client.post("/v1/extractors", json=_extractor("refused_one", schema))
            assert answer.status_code == 422, (name, answer.text)
            error = answer.json()["error"]
            assert (error["type"], error["pointer"]) == ("schema_invalid", pointer), name
        listed = {e["name"] for e in client.get("/v1/extractors").json()["data"]}
    assert "refused_one" not in listed  # nothing of a refused schema was stored


def test_inference_proposes_a_schema_that_passes_the_door_and_is_billed(live: LiveStack) -> None:
    samples = [
        {"text": CLAIM_TEXT.format(i=i, day=i + 1), "filename": f"claim-{i}.txt"} for i in range(3)
    ]
    with live.client(timeout=120) as client:
        answer = client.post(
            "/v1/extractors/infer", json={"samples": samples, "hint": "home insurance claims"}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "succeeded"
        assert float(body["cost_usd"]) > 0
        assert body["fields"] == len(body["json_schema"]["properties"]) >= 1
        Draft202012Validator.check_schema(body["json_schema"])
        name = f"inferred_{uuid.uuid4().hex[:6]}"
        saved = client.post("/v1/extractors", json=_extractor(name, body["json_schema"]))
        assert saved.status_code == 201, saved.text
        again = client.get(f"/v1/extractors/infer/{body['job_id']}")
        assert again.json()["json_schema"] == body["json_schema"]


def test_the_builtin_document_summary_sent_to_the_provider_carries_the_language_pattern(
    live: LiveStack,
) -> None:
    with live.client() as client:
        latest = client.get("/v1/extractors/document_summary").json()["latest_version"]
        shown = client.get(f"/v1/extractors/document_summary/versions/{latest}")
    assert shown.status_code == 200
    language = shown.json()["json_schema"]["properties"]["language"]
    assert language["pattern"] == "^[a-z]{2}$"
