"""The extractors and usage pages in a real browser: inline schema errors, uploads, spend."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.console.conftest import sign_in
from tests.support.browser import screenshots
from tests.support.stacks import LiveStack
from tests.support.waits import wait_batch, wait_job

pytestmark = pytest.mark.e2e

GOOD = {
    "type": "object",
    "properties": {"total": {"type": "number", "minimum": 0}},
    "required": ["total"],
    "additionalProperties": False,
}


def test_a_refused_schema_is_shown_inline_with_its_pointer_and_an_upload_registers(
    page: Page, stack: LiveStack, tmp_path: Path
) -> None:
    sign_in(page, stack, stack.alice)
    page.goto(f"{stack.api_url}/console/extractors")
    names = page.locator("table.extractors").inner_text()
    assert page.title() == "Extractors · docqueue console"
    assert "invoice" in names  # built-in
    assert "console_claims" in names  # the tenant's own
    bad = json.dumps({"type": "object", "properties": {"a": {"type": "strnig"}}})
    page.get_by_label("Name (lowercase letters, digits, _)").fill("bad_one")
    page.get_by_label("JSON Schema").fill(bad)
    with page.expect_response("**/console/extractors") as answer:
        page.get_by_role("button", name="Register").click()
    assert answer.value.status == 422
    assert "/properties/a/type" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("JSON Schema").input_value() == bad  # nothing typed is lost
    screenshots(page, "extractors")

    schema_file = tmp_path / "totals.json"
    schema_file.write_text(json.dumps(GOOD))
    page.get_by_label("Name (lowercase letters, digits, _)").fill("totals")
    page.get_by_label("JSON Schema").fill("")
    page.get_by_label("…or a schema file").set_input_files(str(schema_file))
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/console/extractors/totals")
    assert json.loads(page.locator("#schema").inner_text()) == GOOD
    screenshots(page, "extractor")
    assert "v1" in page.locator("ul.tally").inner_text()
    with stack.client() as client:
        assert client.get("/v1/extractors/totals").status_code == 200


def test_the_usage_page_shows_the_ledgers_spend_and_the_budget(
    page: Page, stack: LiveStack
) -> None:
    tenant = stack.tenant("spender")
    with stack.client(tenant) as client:
        made = client.post("/v1/jobs", json={"schema": "invoice", "text": "Invoice 7, total 12.00"})
        assert made.status_code == 202, made.text
        assert wait_job(client, made.json()["id"])["status"] == "succeeded"
        ledger = client.get("/v1/usage").json()
    assert Decimal(ledger["totals"]["cost_usd"]) > 0
    sign_in(page, stack, tenant)
    page.goto(f"{stack.api_url}/console/usage")
    shown = page.locator("#usage-total").inner_text()
    assert shown == f"${Decimal(ledger['totals']['cost_usd']):,.4f}"
    assert page.locator("svg.chart rect.lane-realtime").count() >= 1
    assert "%" in page.locator("#budget-share").inner_text()
    assert "gpt-" in page.locator("table.usage").inner_text()
    screenshots(page, "usage")


def _version(client: httpx.Client, properties: dict[str, Any]) -> None:
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    body = {"name": "diffy", "description": "Claims", "json_schema": schema}
    assert client.post("/v1/extractors", json=body).status_code == 201


def test_the_diff_of_a_rerun_shows_each_added_field(page: Page, stack: LiveStack) -> None:
    tenant = stack.tenant("differ")
    docs = [
        {"text": f"Policy number: PN-{20000 + i}\nHolder name: Ines Duarte\n", "key": f"k{i}"}
        for i in range(3)
    ]
    with stack.client(tenant) as client:
        _version(client, {"policy_number": {"type": "string"}})
        first = client.post("/v1/batches", json={"schema": "diffy", "documents": docs})
        assert first.status_code == 202, first.text
        before = first.json()["id"]
        wait_batch(client, before)
        _version(client, {"policy_number": {"type": "string"}, "holder_name": {"type": "string"}})
        rerun = client.post(f"/v1/batches/{before}/rerun", json={"schema": "diffy@2"})
        assert rerun.status_code == 201, rerun.text
        after = rerun.json()["id"]
        wait_batch(client, after)
    sign_in(page, stack, tenant)
    page.goto(f"{stack.api_url}/console/diff")
    page.get_by_label("Batch (after)").select_option(after)
    page.get_by_label("Against (before)").select_option(before)
    page.get_by_role("button", name="Compare").click()
    assert page.locator("#diff-changed").inner_text() == "3"
    lines = page.locator("table.diff-lines").inner_text()
    assert lines.count("holder_name added") == 3  # the field v2 added, in every document
    assert "Ines Duarte" in lines
    screenshots(page, "diff")


def test_samples_become_a_proposed_schema_that_registers_as_an_extractor(
    page: Page, stack: LiveStack, tmp_path: Path
) -> None:
    tenant = stack.tenant("inferrer")
    sample = tmp_path / "claim.txt"
    sample.write_text("Policy number: PN-55555\nHolder name: Omar Haddad\nAmount: 10.00\n")
    sign_in(page, stack, tenant)
    page.goto(f"{stack.api_url}/console/extractors")
    page.get_by_label("Sample files").set_input_files(str(sample))
    page.get_by_label("…or pasted samples").fill(
        "Policy number: PN-66666\nHolder name: Lena Kowalski\nAmount: 12.50\n"
    )
    page.get_by_role("button", name="Infer a schema").click()
    page.wait_for_url("**/console/extractors/infer/*")
    expect(page.locator("#infer-done")).to_be_visible(timeout=60_000)  # polled, no reload
    screenshots(page, "infer")
    proposed = json.loads(page.get_by_label("JSON Schema").input_value())
    assert proposed["type"] == "object"
    assert proposed["properties"]
    page.get_by_label("Name (lowercase letters, digits, _)").fill("inferred_claims")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/console/extractors/inferred_claims")
    assert json.loads(page.locator("#schema").inner_text())["properties"] == proposed["properties"]
