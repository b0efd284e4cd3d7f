"""The budget's contract, on Postgres and in memory: caps, concurrency, settle-once."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from tasks.errors import BudgetExceeded
from tests.integration.flow.budget_accounts import (
    Account,
    OpenAccount,
    memory_account,
    postgres_account,
)


@pytest.fixture(params=["postgres", "memory"])
def open_account(request: pytest.FixtureRequest) -> OpenAccount:
    """Opens a fresh tenant account on the chosen backend."""
    if request.param == "postgres":
        pg_url: str = request.getfixturevalue("pg_url")
        return lambda **budgets: postgres_account(pg_url, **budgets)
    return memory_account


def test_concurrent_reservations_never_exceed_the_budget(open_account: OpenAccount) -> None:
    account: Account = open_account(monthly="10.00")
    gate = threading.Barrier(50)

    def worker(_: int) -> bool:
        gate.wait()
        try:
            hold = account.budget.reserve(Decimal("0.60"))  # 50 x 0.60 = 30.00: 3x the budget
        except BudgetExceeded:
            return False
        hold.settle(Decimal("0.60"))
        return True

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(worker, range(50)))
    summary = account.summary()
    # spent + reserved only grows by 0.60 per accepted call, so exactly 16 fit in 10.00
    assert results.count(True) == 16
    assert results.count(False) == 34
    assert summary["month_spent_usd"] == Decimal("9.60")
    assert summary["month_reserved_usd"] == 0
    assert summary["day_spent_usd"] == Decimal("9.60")


def test_settle_releases_the_unused_reservation(open_account: OpenAccount) -> None:
    account: Account = open_account(monthly="5.00", daily="3.00")
    hold = account.budget.reserve(Decimal("2.00"))
    during = account.summary()
    assert during["month_reserved_usd"] == Decimal("2.00")
    assert during["day_reserved_usd"] == Decimal("2.00")
    hold.settle(Decimal("0.25"))
    after = account.summary()
    assert after == {
        "monthly_budget_usd": Decimal("5.00"),
        "daily_budget_usd": Decimal("3.00"),
        "month_spent_usd": Decimal("0.25"),
        "month_reserved_usd": Decimal(0),
        "day_spent_usd": Decimal("0.25"),
        "day_reserved_usd": Decimal(0),
    }


def test_settle_twice_counts_once(open_account: OpenAccount) -> None:
    account: Account = open_account(monthly="5.00")
    hold = account.budget.reserve(Decimal("1.00"))
    hold.settle(Decimal("0.40"))
    hold.settle(Decimal("0.40"))
    summary = account.summary()
    assert summary["month_spent_usd"] == Decimal("0.40")
    assert summary["month_reserved_usd"] == 0


def test_daily_cap_rejects_before_monthly(open_account: OpenAccount) -> None:
    account: Account = open_account(monthly="100.00", daily="1.00")
    account.budget.reserve(Decimal("0.80")).settle(Decimal("0.80"))
    with pytest.raises(BudgetExceeded) as raised:
        account.budget.reserve(Decimal("0.50"))
    message = raised.value.message
    assert "2026-11-23" in message
    assert "budget 1.000000" in message
    assert "spent 0.800000" in message
    assert "held by calls in flight 0.000000" in message
    assert "needs 0.500000 USD at worst and 0.200000 USD is left" in message
    assert account.summary()["month_reserved_usd"] == 0  # nothing half-reserved
    account.clock.now += dt.timedelta(days=1)  # tomorrow
    account.budget.reserve(Decimal("0.50")).settle(Decimal("0.50"))
    assert account.summary()["month_spent_usd"] == Decimal("1.30")


def test_monthly_cap_rejects_a_reservation_that_would_cross_it(
    open_account: OpenAccount,
) -> None:
    account: Account = open_account(monthly="1.00")
    account.budget.reserve(Decimal("0.70"))  # still open
    with pytest.raises(BudgetExceeded, match="2026-11 is exhausted"):
        account.budget.reserve(Decimal("0.31"))
    account.budget.reserve(Decimal("0.30"))  # exactly at the cap is allowed


def test_amounts_round_up_when_reserved_and_to_nearest_when_settled(
    open_account: OpenAccount,
) -> None:
    account: Account = open_account(monthly="1.00")
    hold = account.budget.reserve(Decimal("0.0000001"))
    assert account.summary()["month_reserved_usd"] == Decimal("0.000001")
    hold.settle(Decimal("0.0000014"))
    assert account.summary()["month_spent_usd"] == Decimal("0.000001")


def test_negative_amounts_are_refused(open_account: OpenAccount) -> None:
    account: Account = open_account(monthly="1.00")
    with pytest.raises(ValueError, match="negative"):
        account.budget.reserve(Decimal("-0.01"))
    assert account.summary()["month_reserved_usd"] == 0


def test_a_refused_reservation_is_counted_in_the_rejections_metric(
    open_account: OpenAccount,
) -> None:
    account: Account = open_account(monthly="1.00")

    def rejections() -> float:
        return REGISTRY.get_sample_value("docqueue_budget_rejections_total") or 0.0

    before = rejections()
    account.budget.reserve(Decimal("1.00"))
    assert rejections() == before
    with pytest.raises(BudgetExceeded):
        account.budget.reserve(Decimal("0.01"))
    assert rejections() == before + 1
