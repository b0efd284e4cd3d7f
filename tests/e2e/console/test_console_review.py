"""The review queue in a real browser, driven by the keyboard; corrections reach the export."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.console.conftest import sign_in
from tests.support.browser import screenshots
from tests.support.stacks import LiveStack
from tests.support.waits import wait_for

pytestmark = pytest.mark.e2e

RIGHT = {"/policy_number": "PN-10031", "/holder_name": "Dana Whitfield", "/amount": "131.5"}


def _doubtful(i: int) -> dict[str, Any]:
    """A claim whose every field the simulator invents: each lands in review."""
    text = (
        f"Claim notice {i}\nPolicy number: PN-{10000 + i}\nHolder name: Dana Whitfield\n"
        f"Amount: {100 + i}.50\n[[sim:hallucinate=1]]\n"
    )
    return {"text": text, "filename": f"doubt-{i}.txt", "key": f"d{i}-{time.time_ns()}"}


def test_a_reviewer_corrects_and_approves_by_keyboard_and_the_export_shows_it(
    page: Page, stack: LiveStack
) -> None:
    tenant = stack.tenant("reviewer")
    with stack.client(tenant) as client:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "policy_number": {"type": "string", "pattern": "^PN-[0-9]{5}$"},
                "holder_name": {"type": "string"},
                "amount": {"type": "number", "minimum": 0},
            },
            "required": ["policy_number", "holder_name", "amount"],
            "additionalProperties": False,
        }
        body = {"name": "doubts", "description": "Claims", "json_schema": schema}
        assert client.post("/v1/extractors", json=body).status_code == 201
        made = client.post(
            "/v1/batches", json={"schema": "doubts", "documents": [_doubtful(31), _doubtful(32)]}
        )
        assert made.status_code == 202, made.text
        batch_id = made.json()["id"]
        wait_for(
            lambda: client.get(f"/v1/review?batch_id={batch_id}").json()["pending"] == 2, timeout=60
        )
    sign_in(page, stack, tenant)
    page.goto(f"{stack.api_url}/console/review")
    expect(page.locator("#review-left")).to_have_text("2 left")
    first_job = page.locator("#review").get_attribute("data-job")
    assert "a approve" in page.locator("aside.shortcuts").inner_text()
    screenshots(page, "review")

    page.keyboard.press("e")  # the least sure field takes the focus
    focused = page.evaluate("document.activeElement.name")
    assert focused.startswith("f:/")
    policy = page.locator('input[name="f:/policy_number"]')
    policy.fill("not a policy number")
    policy.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("/policy_number")  # refused inline
    for path, value in RIGHT.items():
        page.locator(f'input[name="f:{path}"]').fill(value)
    page.locator('input[name="f:/amount"]').press("Enter")
    expect(page.locator("#review-left")).to_have_text("1 left")
    second_job = page.locator("#review").get_attribute("data-job")
    assert second_job != first_job

    page.locator("body").press("a")  # approve the second as it is
    expect(page.locator("#review-left")).to_have_text("0 left")
    assert "Nothing waits for review" in page.locator("main").inner_text()

    with stack.client(tenant) as client:
        lines = [
            json.loads(x) for x in client.get(f"/v1/batches/{batch_id}/results").text.splitlines()
        ]
    by_id = {line["id"]: line for line in lines}
    corrected, approved = by_id[str(first_job)], by_id[str(second_job)]
    assert corrected["review_state"] == "corrected"
    assert corrected["result"]["policy_number"] == "PN-10031"
    assert corrected["result"]["amount"] == 131.5
    assert approved["review_state"] == "approved"
