"""The console's browser tests: one stack of their own, one chromium, a page per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.browser import launch
from tests.support.stacks import LiveStack, StackFactory, WorkerSpec
from tests.support.tenants import Tenant

CLAIMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "policy_number": {"type": "string", "pattern": "^PN-[0-9]{5}$"},
        "holder_name": {"type": "string", "maxLength": 80},
        "amount": {"type": "number", "minimum": 0},
    },
    "required": ["policy_number", "holder_name", "amount"],
    "additionalProperties": False,
}


@pytest.fixture(scope="package")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """Slow enough answers (400 ms, 2 threads) to watch a batch move; pages poll fast."""
    made = stack_factory(
        name="console",
        workers=[WorkerSpec("w1", concurrency=2)],
        sim_latency_ms=400,
        overrides={"console": {"poll_s": 0.3, "session_ttl_s": 3600, "link_ttl_s": 600}},
    )
    with made.client() as client:  # an extractor of our own, whose fields cite the text
        resp = client.post(
            "/v1/extractors",
            json={"name": "console_claims", "description": "Claims", "json_schema": CLAIMS},
        )
        assert resp.status_code in (201, 200), resp.text
    yield made
    made.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless chromium for the console tests, stopped after them: Playwright's sync
    API runs an event loop in this thread while it lives, and later tests call asyncio.run."""
    with sync_playwright() as playwright:
        started = launch(playwright)
        yield started
        started.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at the desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, stack: LiveStack, tenant: Tenant) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{stack.api_url}/console/signin")
    page.get_by_label("API key").fill(tenant.api_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/batches")
