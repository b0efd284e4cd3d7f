"""Settles that outlasted their retries are kept and settled later by the worker itself."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal

from tasks.flow.budget.pending import PendingSettles
from tests.unit.flow.clock import ManualClock

COST = Decimal("0.10")


class Ledger:
    """A settle target that refuses while `down` and records what it settled."""

    def __init__(self, *, down: bool = True) -> None:
        self.down = down
        self.settled: list[uuid.UUID] = []

    def writer(self, reservation_id: uuid.UUID) -> Callable[[], None]:
        """The settle of one reservation, as PostgresHold hands it over."""

        def write() -> None:
            if self.down:
                raise ConnectionError("Postgres is down")
            self.settled.append(reservation_id)

        return write


def test_a_settle_that_still_fails_is_kept_and_settled_once_postgres_answers() -> None:
    clock, ledger, rid = ManualClock(), Ledger(), uuid.uuid4()
    pending = PendingSettles(clock=clock, max_age_s=600)
    pending.add(reservation_id=rid, actual_usd=COST, write=ledger.writer(rid), start=False)
    assert pending.drain_once() == 0
    assert len(pending) == 1
    ledger.down = False
    clock.advance(5)
    assert pending.drain_once() == 1
    assert ledger.settled == [rid]
    assert len(pending) == 0


def test_a_kept_settle_older_than_the_hard_time_limit_is_left_to_the_reconciler() -> None:
    clock, ledger, rid = ManualClock(), Ledger(down=False), uuid.uuid4()
    pending = PendingSettles(clock=clock, max_age_s=600)
    pending.add(reservation_id=rid, actual_usd=COST, write=ledger.writer(rid), start=False)
    clock.advance(601)
    assert pending.drain_once() == 0
    assert ledger.settled == []
    assert len(pending) == 0


def test_the_background_thread_settles_a_kept_settle_without_being_asked() -> None:
    ledger, rid = Ledger(down=False), uuid.uuid4()
    pending = PendingSettles(every_s=0.01)
    pending.add(reservation_id=rid, actual_usd=COST, write=ledger.writer(rid))
    deadline = time.monotonic() + 5
    while len(pending) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ledger.settled == [rid]
    assert len(pending) == 0
