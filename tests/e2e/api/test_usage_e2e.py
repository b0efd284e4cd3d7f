"""GET /v1/usage against the ledger a real run wrote (shared stack, tenants of its own)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import LlmCall
from tests.support.stacks import LiveStack
from tests.support.tenants import Tenant
from tests.support.waits import wait_job

pytestmark = pytest.mark.e2e

MEMO = "Memo {n}: the Oslo office moves to Storgata 5 on 2026-06-{n:02d}; IT sets up the VPN."
INVOICE = "Invoice INV-{n} from Initech AS, 2026-03-03: 2 x cable at 3.50 NOK. Due in 14 days."


@pytest.fixture(scope="module")
def spender(live: LiveStack) -> tuple[Tenant, list[dict[str, Any]]]:
    """A tenant that ran jobs on every tier, with a re-ask and a failed job among them."""
    tenant = live.tenant("spender", budget=250.0)
    requests = [
        {"schema": "invoice", "tier": "low", "text": INVOICE.format(n=1)},
        {"schema": "invoice", "tier": "low", "text": INVOICE.format(n=2) + " [[sim:invalid_once]]"},
        {"schema": "document_summary", "tier": "medium", "text": MEMO.format(n=3)},
        {"schema": "document_summary", "tier": "high", "text": MEMO.format(n=4)},
        {"schema": "invoice", "tier": "low", "text": INVOICE.format(n=5) + " [[sim:status=400]]"},
    ]
    with live.client(tenant) as client:
        ids = []
        for body in requests:
            resp = client.post("/v1/jobs", json=body)
            assert resp.status_code == 202, resp.text
            ids.append(resp.json()["id"])
        jobs = [wait_job(client, job_id, timeout=90) for job_id in ids]
    assert [j["status"] for j in jobs] == ["succeeded"] * 4 + ["failed"]
    return tenant, jobs


def ledger_lines(live: LiveStack, tenant: Tenant) -> dict[tuple[str, str, str], list[Any]]:
    """The tenant's ledger grouped by (UTC day, model, tier) in Python, independently of SQL."""
    with live.session() as session:
        rows = session.execute(
            select(
                LlmCall.created_at,
                LlmCall.model,
                LlmCall.tier,
                LlmCall.input_tokens,
                LlmCall.output_tokens,
                LlmCall.cached_tokens,
                LlmCall.cost_usd,
            ).where(LlmCall.tenant_id == uuid.UUID(tenant.id))
        ).all()
    lines: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, Decimal(0)])
    for created, model, tier, tokens_in, tokens_out, cached, cost in rows:
        line = lines[(created.astimezone(dt.UTC).date().isoformat(), model, tier)]
        for i, value in enumerate((1, tokens_in, tokens_out, cached, cost)):
            line[i] += value
    return dict(lines)


def test_usage_reports_the_ledger_by_day_model_and_tier_with_totals_and_budget(
    live: LiveStack, spender: tuple[Tenant, list[dict[str, Any]]]
) -> None:
    tenant, jobs = spender
    with live.client(tenant) as client:
        resp = client.get("/v1/usage")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    today = dt.datetime.now(dt.UTC).date()
    assert (body["since"], body["until"]) == (today.replace(day=1).isoformat(), today.isoformat())

    expected = ledger_lines(live, tenant)
    got = {
        (r["day"], r["model"], r["tier"]): [
            r["calls"],
            r["input_tokens"],
            r["output_tokens"],
            r["cached_tokens"],
            Decimal(r["cost_usd"]),
        ]
        for r in body["by_day"]
    }
    assert got == expected
    assert {tier for _, _, tier in got} == {"low", "medium", "high"}
    calls = sum(line[0] for line in expected.values())
    assert calls == 7  # 1 + 2 (re-ask) + 1 + 1 + 2 (400 on both models of the chain)
    cost = sum((line[4] for line in expected.values()), Decimal(0))
    totals = body["totals"]
    assert totals["calls"] == calls
    assert totals["input_tokens"] == sum(j["usage"]["input_tokens"] for j in jobs)
    assert totals["output_tokens"] == sum(j["usage"]["output_tokens"] for j in jobs)
    assert Decimal(totals["cost_usd"]) == cost == sum(Decimal(j["usage"]["cost_usd"]) for j in jobs)
    assert cost > 0

    budget = body["budget"]
    assert Decimal(budget["monthly_budget_usd"]) == 250
    assert budget["daily_budget_usd"] is None
    assert Decimal(budget["month_spent_usd"]) == cost  # every reservation settled at its cost
    assert Decimal(budget["month_reserved_usd"]) == 0
    assert Decimal(budget["day_spent_usd"]) == cost


def test_usage_costs_are_strings_like_the_job_usage_cost(
    live: LiveStack, spender: tuple[Tenant, list[dict[str, Any]]]
) -> None:
    tenant, jobs = spender
    with live.client(tenant) as client:
        body = client.get("/v1/usage").json()
    assert isinstance(jobs[0]["usage"]["cost_usd"], str)
    assert isinstance(body["totals"]["cost_usd"], str)
    assert all(isinstance(r["cost_usd"], str) for r in body["by_day"])
    money = [v for k, v in body["budget"].items() if k.endswith("_usd") and v is not None]
    assert money
    assert all(isinstance(v, str) for v in money)


def test_usage_for_a_past_range_is_empty_but_still_reports_the_budget(
    live: LiveStack, spender: tuple[Tenant, list[dict[str, Any]]]
) -> None:
    tenant, _ = spender
    with live.client(tenant) as client:
        body = client.get("/v1/usage", params={"since": "2025-01-01", "until": "2025-01-31"}).json()
    assert (body["since"], body["until"]) == ("2025-01-01", "2025-01-31")
    assert body["by_day"] == []
    assert body["totals"]["calls"] == 0
    assert Decimal(body["totals"]["cost_usd"]) == 0
    assert Decimal(body["budget"]["month_spent_usd"]) > 0


def test_usage_for_today_only_matches_the_default_month(
    live: LiveStack, spender: tuple[Tenant, list[dict[str, Any]]]
) -> None:
    tenant, _ = spender
    today = dt.datetime.now(dt.UTC).date().isoformat()
    with live.client(tenant) as client:
        day = client.get("/v1/usage", params={"since": today, "until": today}).json()
        month = client.get("/v1/usage").json()
    assert day["by_day"] == month["by_day"]
    assert day["totals"] == month["totals"]


def test_usage_shows_only_the_callers_own_spend(
    live: LiveStack, spender: tuple[Tenant, list[dict[str, Any]]]
) -> None:
    del spender  # it ran jobs; this other tenant must not see them
    stranger = live.tenant("stranger")
    with live.client(stranger) as client:
        body = client.get("/v1/usage").json()
    assert body["by_day"] == []
    assert body["totals"]["calls"] == 0
    assert Decimal(body["budget"]["month_spent_usd"]) == 0


@pytest.mark.parametrize(
    ("params", "error_type"),
    [
        ({"since": "2026-05-02", "until": "2026-05-01"}, "invalid_range"),
        ({"since": "2024-01-01", "until": "2026-01-01"}, "invalid_range"),
        ({"since": "yesterday"}, "invalid_request"),
    ],
)
def test_bad_usage_range_is_422_with_json_error(
    live: LiveStack, params: dict[str, str], error_type: str
) -> None:
    with live.client() as client:
        resp = client.get("/v1/usage", params=params)
    assert resp.status_code == 422
    assert resp.json()["error"]["type"] == error_type


def test_usage_without_key_is_401(live: LiveStack) -> None:
    with live.client() as client:
        resp = client.get("/v1/usage", headers={"Authorization": ""})
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "unauthorized"
