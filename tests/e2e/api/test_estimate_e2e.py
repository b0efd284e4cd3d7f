"""POST /v1/estimate against the real stack: an estimate the billed cost then lands close to."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from storage.models import Job, LlmCall
from tests.e2e.api.json_errors import assert_json_error
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant
from tests.support.waits import wait_until_terminal

pytestmark = pytest.mark.e2e

WARMUP = 30  # finished jobs, past the 20 an estimate needs to trust the tenant's history
DOCUMENTS = 200
CITIES = ("Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø")
TOPICS = ("the VPN rollout", "desk booking", "the travel policy", "badge renewal")


def _memo(n: int, run: str) -> str:
    """A memo of varying length; every tenth asks the simulator for one invalid answer."""
    city, topic = CITIES[n % len(CITIES)], TOPICS[n % len(TOPICS)]
    body = " ".join(
        f"Item {i}: the {city} team reviews {topic} on 2026-06-{1 + (n + i) % 28:02d}."
        for i in range(1 + n % 7)
    )
    cue = " [[sim:invalid_once]]" if n % 10 == 0 else ""
    return f"Memo {run}-{n} from the {city} office about {topic}. {body}{cue}"


def _body(start: int, count: int, run: str, **fields: Any) -> dict[str, Any]:
    docs = [
        {"text": _memo(n, run), "filename": f"memo-{n}.txt", "key": f"{run}-{n}"}
        for n in range(start, start + count)
    ]
    return {"schema": "document_summary", "tier": "low", "documents": docs, **fields}


def _jobs(live: LiveStack, tenant: Tenant) -> int:
    with live.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Job).where(Job.tenant_id == uuid.UUID(tenant.id))
        )
    return int(count or 0)


def _billed(live: LiveStack, batch_id: str) -> tuple[Decimal, dict[str, int]]:
    """The batch's realtime cost in the ledger, and its calls and tokens (for the message)."""
    with live.session() as session:
        cost, calls, tokens_in, tokens_out = session.execute(
            select(
                func.sum(LlmCall.cost_usd),
                func.count(),
                func.sum(LlmCall.input_tokens),
                func.sum(LlmCall.output_tokens),
            )
            .join(Job, Job.id == LlmCall.job_id)
            .where(Job.batch_id == uuid.UUID(batch_id), LlmCall.lane == "realtime")
        ).one()
    seen = {"calls": calls, "input_tokens": tokens_in or 0, "output_tokens": tokens_out or 0}
    return Decimal(cost or 0), seen


def _submit(client: httpx.Client, body: dict[str, Any]) -> str:
    resp = client.post("/v1/batches", json=body)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["id"])


@pytest.fixture(scope="module")
def seasoned(live: LiveStack) -> Tenant:
    """A tenant with WARMUP finished realtime jobs of the extractor: history to estimate by."""
    tenant = live.tenant("estimates")
    with live.client(tenant) as client:
        _submit(client, _body(DOCUMENTS, WARMUP, "warmup"))
    counts = wait_until_terminal(live, WARMUP, timeout=180, tenant=tenant)
    assert counts == {"succeeded": WARMUP}  # failed jobs are no history to estimate by
    return tenant


def test_the_billed_realtime_cost_of_200_documents_is_within_ten_percent_of_the_estimate(
    live: LiveStack, seasoned: Tenant
) -> None:
    body = _body(0, DOCUMENTS, "real")
    with live.client(seasoned, timeout=120) as client:
        before = _jobs(live, seasoned)
        resp = client.post("/v1/estimate", json=body)
        assert resp.status_code == 200, resp.text
        assert _jobs(live, seasoned) == before  # an estimate stores no job
        estimate = resp.json()
        batch_id = _submit(client, body)
    wait_until_terminal(live, before + DOCUMENTS, timeout=300, tenant=seasoned)
    realtime, batch = estimate["lanes"]["realtime"], estimate["lanes"]["batch"]
    assert (realtime["documents"], batch["documents"]) == (DOCUMENTS, 0)
    [basis] = estimate["output"]
    assert (basis["tier"], basis["source"], basis["jobs"]) == ("low", "history", WARMUP), estimate
    assert basis["tokens_per_call"] > 0
    assert estimate["reasks"]["source"] == "ledger"
    assert estimate["reasks"]["validation_errors"] >= 1  # the warm-up's invalid answers
    assert realtime["reask_calls"] > 0
    assert realtime["eta_s"] > 0
    billed, seen = _billed(live, batch_id)
    expected = Decimal(realtime["cost_usd"])
    assert billed > 0
    assert abs(billed - expected) <= expected * Decimal("0.10"), (billed, seen, realtime, basis)


def test_each_document_gets_its_tokens_tier_reason_and_lane(
    live: LiveStack, seasoned: Tenant
) -> None:
    body = _body(0, 3, "rows", tier="auto")
    body["documents"].append({"content_base64": "JVBERi0xLjQK", "filename": "broken.pdf"})
    with live.client(seasoned) as client:
        resp = client.post("/v1/estimate", json=body)
    assert resp.status_code == 200, resp.text
    rows = resp.json()["documents"]
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert all(r["tokens"] > 10 and r["tier"] == "low" for r in rows[:3])
    assert all(r["tier_reason"].startswith("tokens ") for r in rows[:3])
    assert {r["lane"] for r in rows} == {"realtime"}
    assert rows[3]["invalid"] is not None
    assert rows[3]["cost_usd"] == "0"


def test_a_far_deadline_on_auto_puts_every_document_in_the_batch_lane_at_a_lower_price(
    live: LiveStack, seasoned: Tenant
) -> None:
    with live.client(seasoned) as client:
        live_lane = client.post("/v1/estimate", json=_body(0, 5, "lane")).json()
        batch_lane = client.post(
            "/v1/estimate", json=_body(0, 5, "lane", lane="auto", deadline="2099-01-01T00:00:00Z")
        ).json()
    assert batch_lane["lane"] == "batch"
    part = batch_lane["lanes"]["batch"]
    assert (part["documents"], batch_lane["lanes"]["realtime"]["documents"]) == (5, 0)
    assert part["eta_s"] == 24 * 3600  # the shipped [batch_lane] window
    assert Decimal(part["cost_usd"]) < Decimal(live_lane["lanes"]["realtime"]["cost_usd"])


@pytest.mark.parametrize(
    ("change", "status", "error_type"),
    [
        ({"schema": "no_such_extractor"}, 422, "unknown_schema"),
        ({"documents": []}, 422, "invalid_request"),
        ({"lane": "batch", "deadline": "2020-01-01T00:00:00Z"}, 422, "deadline_passed"),
        ({"lane": "sideways"}, 422, "invalid_request"),
        ({"tier": "huge"}, 422, "invalid_request"),
    ],
)
def test_a_bad_estimate_request_is_a_4xx_in_the_api_error_shape(
    live: LiveStack, seasoned: Tenant, change: dict[str, Any], status: int, error_type: str | None
) -> None:
    with live.client(seasoned) as client:
        resp = client.post("/v1/estimate", json={**_body(0, 1, "bad"), **change})
    body = assert_json_error(resp, status)
    if error_type is not None:
        assert body["error"]["type"] == error_type


def test_an_estimate_wants_json_not_ndjson_or_text(live: LiveStack, seasoned: Tenant) -> None:
    with live.client(seasoned) as client:
        ndjson = client.post(
            "/v1/estimate", content=b"{}\n", headers={"content-type": "application/x-ndjson"}
        )
        text = client.post("/v1/estimate", content=b"hi", headers={"content-type": "text/plain"})
    assert assert_json_error(ndjson, 415)["error"]["type"] == "unsupported_media_type"
    assert assert_json_error(text, 415)["error"]["type"] == "unsupported_media_type"
