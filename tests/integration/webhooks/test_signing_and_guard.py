"""Webhook signatures (HMAC over timestamp and body) and the SSRF guard on target URLs."""

from __future__ import annotations

import time

import pytest

from tasks.webhooks.netguard import UrlRefused, check_url
from tasks.webhooks.signing import sign, verify

SECRET = "whsec_test"  # noqa: S105 - a test signing key
BODY = b'{"event":"job.finished","id":"x"}'


def test_a_signature_verifies_with_the_same_secret_and_body() -> None:
    header = sign(secret=SECRET, body=BODY, timestamp=int(time.time()))
    assert header.startswith("t=")
    assert ",v1=" in header
    assert verify(secret=SECRET, body=BODY, header=header, tolerance_s=300)


@pytest.mark.parametrize(
    ("secret", "body", "age_s"),
    [("other", BODY, 0), (SECRET, BODY + b" ", 0), (SECRET, BODY, 301)],
    ids=["wrong-secret", "tampered-body", "too-old"],
)
def test_a_signature_fails_for_another_secret_a_changed_body_or_an_old_timestamp(
    secret: str, body: bytes, age_s: int
) -> None:
    now = time.time()
    header = sign(secret=SECRET, body=BODY, timestamp=int(now - age_s))
    assert not verify(secret=secret, body=body, header=header, tolerance_s=300, now=now)


def test_a_malformed_signature_header_does_not_verify() -> None:
    assert not verify(secret=SECRET, body=BODY, header="v1=abc", tolerance_s=300)
    assert not verify(secret=SECRET, body=BODY, header="t=soon,v1=abc", tolerance_s=300)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata: link-local
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://100.64.0.1/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "http://user:pw@93.184.216.34/hook",
    ],
)
def test_guard_refuses_non_public_addresses_other_schemes_and_credentials(url: str) -> None:
    with pytest.raises(UrlRefused):
        check_url(url, resolver=lambda *_: ["93.184.216.34"])


def test_guard_refuses_a_name_that_resolves_to_a_private_address() -> None:
    with pytest.raises(UrlRefused, match="private"):
        check_url("https://hooks.example.com/x", resolver=lambda *_: ["10.0.0.7"])


def test_guard_pins_a_public_name_to_the_checked_address_and_keeps_the_host() -> None:
    target = check_url(
        "https://hooks.example.com:8443/x?a=1", resolver=lambda *_: ["93.184.216.34"]
    )
    assert target.connect_url == "https://93.184.216.34:8443/x?a=1"
    assert (target.host, target.host_header) == ("hooks.example.com", "hooks.example.com:8443")


def test_guard_allows_private_addresses_only_when_configured() -> None:
    assert check_url("http://127.0.0.1:9/x", allow_private=True).address == "127.0.0.1"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[2002:7f00:1::]/hook", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("http://[2002:a00:1::]/hook", "private"),  # 6to4 wrapping 10.0.0.1
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "loopback"),  # Teredo, 127.0.0.1
        ("http://[64:ff9b::7f00:1]/hook", "loopback"),  # NAT64 wrapping 127.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/hook", "link-local"),  # NAT64 to cloud metadata
        ("http://[64:ff9b:1::1]/hook", "nat64-local"),
    ],
)
def test_guard_unwraps_ipv6_transition_forms_and_refuses_what_they_hide(url: str, why: str) -> None:
    with pytest.raises(UrlRefused, match=why):
        check_url(url)


def test_guard_allows_a_transition_form_that_wraps_a_public_address() -> None:
    target = check_url("http://[2002:808:808::]/hook")  # 6to4 wrapping 8.8.8.8
    assert target.address == "2002:808:808::"
