"""Log redaction masks phone numbers and emails, and leaves addresses, dates and ids alone."""

from __future__ import annotations

import pytest

from tasks.observability.logs import redact


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (415) 555-0134",
        "+44 20 7946 0958",
        "415-555-0134",
        "0049 30 901820",
        "+33.1.23.45.67.89",
    ],
)
def test_a_phone_number_is_masked(phone: str) -> None:
    assert redact(f"call {phone} today") == "call [phone] today"


@pytest.mark.parametrize(
    "kept",
    [
        "connect to 10.0.0.12 failed",
        "upstream 192.168.100.200:5432 refused",
        "peer 127.0.0.1 closed",
        "since 2026-12-01 the rate",
        "at 2026-12-01T11:58:31Z",
        "invoice 12345 of 7 items",
    ],
)
def test_ip_addresses_dates_and_short_numbers_are_left_alone(kept: str) -> None:
    assert redact(kept) == kept


def test_an_email_is_masked_and_the_rest_kept() -> None:
    assert redact("from ada@example.com at 10.1.2.3") == "from [email] at 10.1.2.3"
