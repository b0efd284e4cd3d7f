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
from storage.db import session_scope
from storage.errors import BudgetExhausted
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
