"""Signing in to the console in a real browser: keys, cookies, sign-out, revocation, links."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from playwright._impl._api_structures import SetCookieParam
from playwright.sync_api import Page

from storage.db import session_scope
from storage.tenants import revoke_key
from tests.e2e.console.conftest import sign_in
from tests.support.stacks import LiveStack

pytestmark = pytest.mark.e2e


def test_a_key_signs_in_with_an_httponly_strict_cookie_that_is_not_the_key(
    page: Page, stack: LiveStack
) -> None:
    page.goto(f"{stack.api_url}/console")
    assert "/console/signin" in page.url  # not signed in: sent to the form
    sign_in(page, stack, stack.alice)
    assert stack.alice.name in page.locator("header").inner_text()
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["dq_console"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["expires"] > 0  # it expires
    assert all(stack.alice.api_key not in c["value"] for c in cookies.values())
    assert page.evaluate("document.cookie") == ""  # no script can read either token


def test_a_wrong_key_is_refused_and_opens_nothing(page: Page, stack: LiveStack) -> None:
    page.goto(f"{stack.api_url}/console/signin")
    page.get_by_label("API key").fill("dq_00000000_not-a-real-key")
    with page.expect_response("**/console/signin") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    assert "is not valid" in page.get_by_role("alert").inner_text()
    assert "dq_console" not in {c["name"] for c in page.context.cookies()}
    page.goto(f"{stack.api_url}/console/batches")
    assert "/console/signin" in page.url


def test_signing_out_ends_the_session_even_for_a_copied_cookie(
    page: Page, stack: LiveStack
) -> None:
    sign_in(page, stack, stack.alice)
    copied: list[SetCookieParam] = [
        {"name": c["name"], "value": c["value"], "url": f"{stack.api_url}/console"}
        for c in page.context.cookies()
    ]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/signin")
    page.context.add_cookies(copied)  # the old cookie, put back by hand
    page.goto(f"{stack.api_url}/console/batches")
    assert "/console/signin" in page.url


def test_revoking_the_key_ends_its_sessions(page: Page, stack: LiveStack) -> None:
    tenant = stack.tenant("revoked")
    sign_in(page, stack, tenant)
    prefix = tenant.api_key.removeprefix("dq_").split("_", 1)[0]
    with session_scope(stack.db_url) as session:
        assert revoke_key(session=session, prefix=prefix) == 1
    page.goto(f"{stack.api_url}/console/batches")
    assert "/console/signin" in page.url


def test_a_form_posted_without_its_csrf_token_is_refused_with_403(
    page: Page, stack: LiveStack
) -> None:
    sign_in(page, stack, stack.alice)
    answer = page.request.post(f"{stack.api_url}/console/signout", form={})
    assert answer.status == 403
    forged = page.request.post(f"{stack.api_url}/console/signout", form={"csrf": "guess"})
    assert forged.status == 403
    page.goto(f"{stack.api_url}/console/batches")  # still signed in: nothing was applied
    assert page.url.endswith("/console/batches")


def test_a_one_time_link_signs_in_once(page: Page, stack: LiveStack) -> None:
    prefix = stack.alice.api_key.removeprefix("dq_").split("_", 1)[0]
    made = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "console-link", prefix, "--api-url", stack.api_url],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        check=True,
    )
    link = made.stdout.strip()
    assert link.startswith(f"{stack.api_url}/console/signin/link?token=")
    page.goto(link)
    assert page.url.endswith("/console/batches")
    page.context.clear_cookies()
    page.goto(link)  # the second visit finds it used up
    assert "/console/signin" in page.url
    assert "used up" in page.get_by_role("alert").inner_text()
