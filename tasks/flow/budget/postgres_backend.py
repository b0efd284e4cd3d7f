"""`tasks.engine.ports.Budget` on Postgres: each reserve and settle is its own short transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storage import budget as store
from storage import held_calls
from storage.db import session_scope
from storage.errors import BudgetExhausted
from storage.ledger import IN_FLIGHT, UNKNOWN, CallResult, CallRow, call_outcome, find_call
from storage.retrying import retry_transient
from tasks.flow.budget.core import refused
from tasks.flow.budget.pending import PENDING, PendingSettles

# the name the budget always logged under, before it was split into a package
log = structlog.get_logger("tasks.flow.budget")

SessionFactory = Callable[[], AbstractContextManager[Session]]


class PostgresHold:
    """One open reservation; settling it twice counts once."""

    def __init__(
        self,
        *,
        reservation_id: uuid.UUID,
        session_factory: SessionFactory,
        pending: PendingSettles = PENDING,
    ) -> None:
        self.reservation_id = reservation_id
        self._session_factory = session_factory
        self._pending = pending

    def settle(self, actual_usd: Decimal) -> None:
        """Replace the reservation by the actual cost.

        A refused or dropped connection is retried with backoff (settling twice counts
        once). A failure that outlasts the retries is logged, not raised (the engine settles
        in `finally`), and the settle is kept for the worker's pending-settles thread
        (tasks/flow/budget/pending.py), which retries it until Postgres answers.
        """

        def write() -> None:
            with self._session_factory() as session:
                store.settle(
                    session=session, reservation_id=self.reservation_id, actual_usd=actual_usd
                )

        try:
            retry_transient("budget_settle", write)
        except SQLAlchemyError as exc:
            log.warning(
                "budget_settle_failed",
                reservation_id=str(self.reservation_id),
                actual_usd=str(actual_usd),
                error=str(exc)[:300],
                kept=True,
            )
            self._pending.add(
                reservation_id=self.reservation_id, actual_usd=actual_usd, write=write
            )

    def close_call(self, *, call_id: int, result: CallResult, reserved_usd: Decimal) -> bool:
        """Complete the call's ledger row and settle this hold, in one statement (retried).

        False when the row was no longer in flight (the reconciler billed it `unknown` at
        its reserved cost): the hold then settles at that cost. If Postgres stays away past
        the retries, the row is left to the reconciler and the hold to the pending settles.
        """
        tries = 0

        def write() -> bool:
            nonlocal tries
            tries += 1
            with self._session_factory() as session:
                closed, _ = held_calls.close_settled(
                    session=session,
                    call_id=call_id,
                    result=result,
                    reservation_id=self.reservation_id,
                    reserved_usd=reserved_usd,
                )
                if closed or tries == 1:
                    return closed
                # a retry: the first try may have landed (only the reconciler writes unknown)
                outcome = call_outcome(session=session, call_id=call_id)
                return outcome not in (IN_FLIGHT, UNKNOWN)

        try:
            return retry_transient("ledger_close", write)
        except SQLAlchemyError:
            self.settle(reserved_usd)  # what the reconciler will bill the open row at
            raise


class PostgresBudget:
    """A tenant's spend guard for one job."""

    def __init__(
        self,
        *,
        tenant_id: uuid.UUID,
        job_id: uuid.UUID,
        url: str | None = None,
        session_factory: SessionFactory | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.tenant_id = tenant_id
        self.job_id = job_id
        # Reserve and settle are one statement each: autocommit keeps the tenant's spend rows
        # locked for the statement alone, not for a COMMIT round trip (a per-tenant hot spot).
        self._session_factory: SessionFactory = session_factory or (
            lambda: session_scope(url, autocommit=True)
        )
        self._clock = clock

    def reserve(self, amount_usd: Decimal) -> PostgresHold:
        """Reserve the worst case or raise BudgetExceeded."""
        try:
            with self._session_factory() as session:
                reservation_id = store.reserve(
                    session=session,
                    tenant_id=self.tenant_id,
                    job_id=self.job_id,
                    amount_usd=amount_usd,
                    now=self._clock(),
                )
        except BudgetExhausted as exc:
            raise refused(self.tenant_id, exc) from exc
        return PostgresHold(reservation_id=reservation_id, session_factory=self._session_factory)

    def open_call(self, amount_usd: Decimal, row: CallRow) -> tuple[int, PostgresHold]:
        """Hold `amount_usd` and open the call's in-flight ledger row, in one statement.

        Raises BudgetExceeded (writing neither) like `reserve`. A retry after a lost answer
        finds the first try's row (its job, attempt and seq) and keeps its hold.
        """
        reservation_id = uuid.uuid4()
        tries = 0

        def write() -> int:
            nonlocal tries
            tries += 1
            with self._session_factory() as session:
                if tries > 1:
                    earlier = find_call(
                        session=session, job_id=row.job_id, attempt=row.attempt, seq=row.seq
                    )
                    if earlier is not None:
                        return earlier
                _, call_id = held_calls.open_held(
                    session=session,
                    row=row,
                    amount_usd=amount_usd,
                    now=self._clock(),
                    reservation_id=reservation_id,
                )
                return call_id

        try:
            call_id = retry_transient("ledger_open", write)
        except BudgetExhausted as exc:
            raise refused(self.tenant_id, exc) from exc
        hold = PostgresHold(reservation_id=reservation_id, session_factory=self._session_factory)
        return call_id, hold
