"""The batch and job pages in a real browser: live progress, actions, exports, safety.

Every page is also saved as a screenshot at 1280x800 and 390x844 (tests/support/browser).
"""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e.console.conftest import sign_in
from tests.support.browser import overflows, screenshots
from tests.support.stacks import LiveStack
from tests.support.waits import wait_batch, wait_job

pytestmark = pytest.mark.e2e

HOSTILE = "Note: <script>alert(1)</script> and <img src=x onerror=alert(1)> end."


def _claim(i: int, extra: str = "") -> dict[str, Any]:
    text = (
        f"Claim notice {i}\nPolicy number: PN-{10000 + i}\nHolder name: Dana Whitfield\n"
        f"Amount: {100 + i}.50\n{extra}"
    )
    return {"text": text, "filename": f"claim-{i}.txt", "key": f"c{i}-{time.time_ns()}"}


def _batch(client: httpx.Client, docs: list[dict[str, Any]]) -> str:
    made = client.post("/v1/batches", json={"schema": "console_claims", "documents": docs})
    assert made.status_code == 202, made.text
    batch_id: str = made.json()["id"]
    return batch_id


def _progress(page: Page) -> int:
    return int(page.locator("#batch-live progress").get_attribute("value") or 0)


def test_a_batch_page_moves_as_jobs_finish_without_a_reload(page: Page, stack: LiveStack) -> None:
    with stack.client() as client:
        batch_id = _batch(client, [_claim(i) for i in range(24)])
    sign_in(page, stack, stack.alice)
    page.goto(f"{stack.api_url}/console/batches/{batch_id}")
    page.evaluate("window.__stillThisPage = true")
    first = _progress(page)
    assert first < 24
    # expect() polls from Python: the page's CSP forbids the eval wait_for_function uses
    expect(page.locator("#batch-live progress")).to_have_attribute("value", "24", timeout=60_000)
    assert page.evaluate("window.__stillThisPage === true")  # no reload happened
    assert page.locator('[data-count="succeeded"]').inner_text() == "24"
    assert page.locator("#batch-status").inner_text() == "finished"
    screenshots(page, "batch")
    page.goto(f"{stack.api_url}/console/batches")
    row = page.locator(f'tr[data-batch="{batch_id}"]')
    assert "24 / 24" in row.inner_text()
    assert not overflows(page)
    screenshots(page, "batches")


def test_a_job_page_marks_each_fields_evidence_and_scrolls_to_it(
    page: Page, stack: LiveStack
) -> None:
    with stack.client() as client:
        doc = _claim(7, "x\n" * 200)
        del doc["key"]
        made = client.post("/v1/jobs", json={"schema": "console_claims", **doc})
        assert made.status_code == 202, made.text
        job = wait_job(client, made.json()["id"])
    assert job["status"] == "succeeded", job
    sign_in(page, stack, stack.alice)
    page.goto(f"{stack.api_url}/console/jobs/{job['id']}")
    rows = page.locator("tr.field")
    assert rows.count() == len(job["fields"]) == 3
    for field in job["fields"]:  # every confidence is also written as a number
        assert f"{field['confidence']:.2f}" in page.locator("table.fields").inner_text()
    policy = next(i for i, f in enumerate(job["fields"]) if f["path"] == "/policy_number")
    mark = page.locator(f"#ev-{policy}")
    assert "PN-10007" in mark.inner_text()  # the quote the model cited
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator(f'tr.field[data-field="{policy}"] a.to-evidence').click()
    assert "active" in (mark.get_attribute("class") or "")
    assert mark.is_visible()
    box = mark.bounding_box()  # relative to the viewport: scrolled into view
    assert box is not None
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= 844
    assert "succeeded" in page.locator("ol.timeline").inner_text()
    assert page.locator("table.calls tbody tr").count() >= 1
    screenshots(page, "job")


def test_hostile_text_shows_as_text_and_runs_nothing(page: Page, stack: LiveStack) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    doc = _claim(9, HOSTILE)
    doc["filename"] = "<img src=x onerror=alert(2)>.txt"
    with stack.client() as client:
        batch_id = _batch(client, [doc])
        wait_batch(client, batch_id)
        job_id = client.get(f"/v1/jobs?batch_id={batch_id}").json()["items"][0]["id"]
    sign_in(page, stack, stack.alice)
    answer = page.goto(f"{stack.api_url}/console/jobs/{job_id}")
    assert answer is not None
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert HOSTILE in page.locator("pre.text").first.inner_text()
    assert "<img src=x onerror=alert(2)>.txt" in page.locator("h1").inner_text()
    assert page.locator("main script, main img").count() == 0
    page.goto(f"{stack.api_url}/console/batches/{batch_id}")
    assert "<img src=x onerror=alert(2)>.txt" in page.locator("table.jobs").inner_text()
    page.wait_for_timeout(500)
    assert dialogs == []


def test_another_tenants_batch_and_job_are_404_pages(page: Page, stack: LiveStack) -> None:
    with stack.client() as client:
        batch_id = _batch(client, [_claim(11)])
        job_id = client.get(f"/v1/jobs?batch_id={batch_id}").json()["items"][0]["id"]
    sign_in(page, stack, stack.bob)
    for url in (f"/console/batches/{batch_id}", f"/console/jobs/{job_id}", "/console/jobs/nope"):
        answer = page.goto(f"{stack.api_url}{url}")
        assert answer is not None
        assert answer.status == 404, url
        assert page.get_by_role("heading", name="Not found").is_visible()
    screenshots(page, "not-found")


def test_cancel_needs_the_forms_token_and_the_exports_hold_every_job(
    page: Page, stack: LiveStack
) -> None:
    with stack.client() as client:
        batch_id = _batch(client, [_claim(20 + i) for i in range(3)])
        wait_batch(client, batch_id)
    sign_in(page, stack, stack.alice)
    forged = page.request.post(f"{stack.api_url}/console/batches/{batch_id}/cancel", form={})
    assert forged.status == 403
    page.goto(f"{stack.api_url}/console/batches/{batch_id}")
    with page.expect_download() as got:
        page.get_by_role("link", name="Download CSV").click()
    table = list(csv.DictReader(io.StringIO(got.value.path().read_text())))
    assert sorted(r["/policy_number"] for r in table) == ["PN-10020", "PN-10021", "PN-10022"]
    with page.expect_download() as got:
        page.get_by_role("link", name="Download NDJSON").click()
    lines = [json.loads(x) for x in got.value.path().read_text().splitlines()]
    assert {line["status"] for line in lines} == {"succeeded"}
    assert len(lines) == 3
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Cancel batch").click()
    page.wait_for_url(f"**/console/batches/{batch_id}")
    assert page.locator("#batch-status").inner_text() == "cancelled"


def test_the_sign_in_page_fits_a_phone(page: Page, stack: LiveStack) -> None:
    page.goto(f"{stack.api_url}/console/signin")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not overflows(page)
    assert page.get_by_label("API key").is_visible()
    screenshots(page, "signin")
