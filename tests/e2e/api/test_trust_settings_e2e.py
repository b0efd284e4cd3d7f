"""Trust settings over a real API: tenant and extractor settings, and the policy jobs snapshot."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from storage.models import Job
from tests.e2e.api.json_errors import assert_json_error
from tests.support.stacks import LiveStack, StackFactory

pytestmark = pytest.mark.e2e

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["title", "amount"],
    "additionalProperties": False,
}
# schemas/docqueue.toml [trust]; [retention] sets no default_days
DEFAULTS = {"review_threshold": 0.6, "on_mismatch": "fail", "retention_days": None}


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """An API with no workers: submitted jobs stay queued with the policy they recorded."""
    made = stack_factory(name="trust-settings", workers=[], scheduler=False)
    yield made
    made.close()


def _policies(stack: LiveStack, **where: Any) -> list[dict[str, Any]]:
    with stack.session() as session:
        stmt = select(Job.trust_policy)
        if "job_id" in where:
            stmt = stmt.where(Job.id == uuid.UUID(where["job_id"]))
        if "batch_id" in where:
            stmt = stmt.where(Job.batch_id == uuid.UUID(where["batch_id"]))
        return list(session.scalars(stmt))


def _extractor(client: httpx.Client, **settings: Any) -> str:
    name = f"memo_{uuid.uuid4().hex[:6]}"
    made = client.post("/v1/extractors", json={"name": name, "json_schema": SCHEMA, **settings})
    assert made.status_code == 201, made.text
    return name


def test_a_tenant_reads_and_changes_its_own_settings(stack: LiveStack) -> None:
    tenant, other = stack.tenant("settings"), stack.tenant("bystander")
    with stack.client(tenant) as client:
        fresh = client.get("/v1/settings").json()
        changed = client.patch(
            "/v1/settings", json={"review_threshold": 0.8, "on_mismatch": "review"}
        )
        cleared = client.patch("/v1/settings", json={"on_mismatch": None})
        kept = client.get("/v1/settings").json()
        too_high = client.patch("/v1/settings", json={"review_threshold": 1.5})
        unknown = client.patch("/v1/settings", json={"verify": "self_consistency"})
        bad_choice = client.patch("/v1/settings", json={"on_mismatch": "shrug"})
    with stack.client(other) as client:
        theirs = client.get("/v1/settings").json()
    assert fresh == {
        "review_threshold": None,
        "on_mismatch": None,
        "retention_days": None,
        "defaults": DEFAULTS,
    }
    assert changed.status_code == 200, changed.text
    assert (changed.json()["review_threshold"], changed.json()["on_mismatch"]) == (0.8, "review")
    assert cleared.json()["on_mismatch"] is None
    assert (kept["review_threshold"], kept["on_mismatch"]) == (0.8, None)
    for resp in (too_high, unknown, bad_choice):
        assert assert_json_error(resp, 422)["error"]["type"] == "invalid_request"
    assert theirs["review_threshold"] is None


def test_extractor_settings_are_set_at_creation_changed_by_patch_and_shown(
    stack: LiveStack,
) -> None:
    tenant, other = stack.tenant("extractor-settings"), stack.tenant("extractor-bystander")
    with stack.client(tenant) as client:
        name = _extractor(client, review_threshold=0.7)
        created = client.get(f"/v1/extractors/{name}").json()
        patched = client.patch(f"/v1/extractors/{name}", json={"verify": "self_consistency"})
        cleared = client.patch(f"/v1/extractors/{name}", json={"review_threshold": None})
        shown = client.get(f"/v1/extractors/{name}").json()
        listed = {e["name"]: e for e in client.get("/v1/extractors").json()["data"]}
        builtin = client.patch("/v1/extractors/invoice", json={"verify": "self_consistency"})
        typo = client.patch(f"/v1/extractors/{name}", json={"verfy": "none"})
    with stack.client(other) as client:
        stranger = client.patch(f"/v1/extractors/{name}", json={"verify": "none"})
    assert (created["review_threshold"], created["verify"]) == (0.7, None)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["review_threshold"], patched.json()["verify"]) == (
        0.7,
        "self_consistency",
    )
    assert cleared.json()["review_threshold"] is None
    assert (shown["review_threshold"], shown["verify"]) == (None, "self_consistency")
    assert listed[name]["verify"] == "self_consistency"
    assert assert_json_error(builtin, 422)["error"]["type"] == "extractor_builtin"
    assert assert_json_error(typo, 422)["error"]["type"] == "invalid_request"
    assert assert_json_error(stranger, 404)["error"]["type"] == "not_found"


def test_new_jobs_snapshot_the_job_then_extractor_then_tenant_policy(stack: LiveStack) -> None:
    tenant = stack.tenant("snapshot")
    with stack.client(tenant) as client:
        client.patch("/v1/settings", json={"review_threshold": 0.5, "on_mismatch": "review"})
        name = _extractor(client, review_threshold=0.7, verify="self_consistency")
        own = client.post(
            "/v1/jobs",
            json={"schema": name, "tier": "low", "text": "Memo: 12 EUR", "review_threshold": 0.9},
        )
        plain = client.post("/v1/jobs", json={"schema": "invoice", "tier": "low", "text": "Bill"})
        batch = client.post(
            "/v1/batches",
            json={"schema": name, "tier": "low", "documents": [{"text": "a"}, {"text": "b"}]},
        )
        header = {"schema": "invoice", "tier": "low", "verify": "self_consistency"}
        upload = "\n".join(json.dumps(line) for line in (header, {"text": "c"}, {"text": "d"}))
        streamed = client.post(
            "/v1/batches", content=upload, headers={"content-type": "application/x-ndjson"}
        )
        # later changes leave the jobs already submitted alone
        client.patch("/v1/settings", json={"review_threshold": 0.1, "on_mismatch": "fail"})
        client.patch(f"/v1/extractors/{name}", json={"verify": "none"})
        invalid = client.post(
            "/v1/jobs", json={"schema": name, "text": "x", "verify": "twice", "tier": "low"}
        )
    for resp in (own, plain, batch, streamed):
        assert resp.status_code == 202, resp.text
    assert _policies(stack, job_id=own.json()["id"]) == [
        {"review_threshold": 0.9, "verify": "self_consistency", "on_mismatch": "review"}
    ]
    assert _policies(stack, job_id=plain.json()["id"]) == [
        {"review_threshold": 0.5, "on_mismatch": "review"}  # a built-in has no settings
    ]
    assert (
        _policies(stack, batch_id=batch.json()["id"])
        == [{"review_threshold": 0.7, "verify": "self_consistency", "on_mismatch": "review"}] * 2
    )
    assert (
        _policies(stack, batch_id=streamed.json()["id"])
        == [{"review_threshold": 0.5, "verify": "self_consistency", "on_mismatch": "review"}] * 2
    )
    assert assert_json_error(invalid, 422)["error"]["type"] == "invalid_request"


def test_a_tenant_without_settings_records_an_empty_policy_so_the_toml_decides(
    stack: LiveStack,
) -> None:
    tenant = stack.tenant("defaults")
    with stack.client(tenant) as client:
        resp = client.post("/v1/jobs", json={"schema": "invoice", "tier": "low", "text": "Bill"})
        replay_key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
        body = {"schema": "invoice", "tier": "low", "text": "Bill 2"}
        first = client.post("/v1/jobs", json=body, headers=replay_key)
        again = client.post("/v1/jobs", json=body, headers=replay_key)
    assert resp.status_code == 202, resp.text
    assert _policies(stack, job_id=resp.json()["id"]) == [{}]
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
