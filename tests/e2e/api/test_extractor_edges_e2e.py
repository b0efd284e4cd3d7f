"""Extractor routes at their edges: malformed path values, replayed reruns, JSON key order."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.api.test_extractors_e2e import CLAIMS, _batch, _extractor, _finished
from tests.support.stacks import LiveStack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "path",
    [
        "/v1/extractors/claims/versions/99999999999",
        "/v1/extractors/claims/versions/0",
        "/v1/extractors/bad%00name",
        "/v1/extractors/Not-A-Slug/versions/1",
    ],
    ids=["int4-overflow", "version-zero", "nul-byte", "not-a-slug"],
)
def test_a_malformed_extractor_path_is_a_422_not_a_500(live: LiveStack, path: str) -> None:
    with live.client() as client:
        answer = client.get(path)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["type"] == "invalid_request"


def test_a_replayed_rerun_with_one_idempotency_key_makes_one_batch(live: LiveStack) -> None:
    name = f"claims_{uuid.uuid4().hex[:6]}"
    key = {"Idempotency-Key": f"rerun-{uuid.uuid4().hex}"}
    with live.client() as client:
        client.post("/v1/extractors", json=_extractor(name, CLAIMS))
        source = _batch(client, name, 3, name)
        _finished(client, source)
        first = client.post(f"/v1/batches/{source}/rerun", json={"schema": name}, headers=key)
        again = client.post(f"/v1/batches/{source}/rerun", json={"schema": name}, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert again.json()["total"] == 3


def test_a_stored_schema_keeps_the_tenants_key_order(live: LiveStack) -> None:
    name = f"ordered_{uuid.uuid4().hex[:6]}"
    names = ["zeta", "alpha", "mid", "a"]  # jsonb would answer a, mid, zeta, alpha
    schema = {"type": "object", "properties": {n: {"type": "string"} for n in names}}
    with live.client() as client:
        client.post("/v1/extractors", json=_extractor(name, schema))
        shown = client.get(f"/v1/extractors/{name}/versions/1")
    stored = json.loads(shown.text)["json_schema"]  # json.loads keeps the wire's order
    assert list(stored["properties"]) == names
