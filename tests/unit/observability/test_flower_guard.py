"""Which Flower settings `docqueue flower` refuses: the default password anywhere but loopback."""

from __future__ import annotations

import pytest

from scripts.flower_guard import DEFAULT_BASIC_AUTH, is_loopback, refusal


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_recognised(address: str) -> None:
    assert is_loopback(address)


@pytest.mark.parametrize("address", ["", "0.0.0.0", "::", "10.0.0.7", "192.168.1.2", "no.such."])  # noqa: S104
def test_every_interface_private_addresses_and_unknown_names_are_not_loopback(
    address: str,
) -> None:
    assert not is_loopback(address)


def test_the_default_password_is_fine_on_loopback_only() -> None:
    assert refusal(address="127.0.0.1", basic_auth=DEFAULT_BASIC_AUTH) is None
    assert refusal(address="10.0.0.7", basic_auth=DEFAULT_BASIC_AUTH) is not None


def test_one_default_or_empty_pair_among_several_is_refused_off_loopback() -> None:
    assert refusal(address="0.0.0.0", basic_auth=f"ops:s3cret,{DEFAULT_BASIC_AUTH}")  # noqa: S104
    assert refusal(address="0.0.0.0", basic_auth="ops:s3cret,viewer:")  # noqa: S104
    assert refusal(address="0.0.0.0", basic_auth="ops:s3cret,viewer:pw2") is None  # noqa: S104


@pytest.mark.parametrize("basic_auth", ["", "   ", "admin", "ops:pw,viewer"])
def test_a_setting_that_is_not_user_password_pairs_is_refused_everywhere(basic_auth: str) -> None:
    message = refusal(address="127.0.0.1", basic_auth=basic_auth)
    assert message is not None
    assert "user:password" in message
