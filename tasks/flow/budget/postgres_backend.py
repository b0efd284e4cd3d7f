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
from tasks.flow.budget.core import refused

# the name the budget always logged under, before it was split into a package
log = structlog.get_logger("tasks.flow.budget")

SessionFactory = Callable[[], AbstractContextManager[Session]]


class PostgresHold:
    """One open reservation; settling it twice counts once."""

    def __init__(self, *, reservation_id: uuid.UUID, session_factory: SessionFactory) -> None:
        self.reservation_id = reservation_id
        self._session_factory = session_factory

    def settle(self, actual_usd: Decimal) -> None:
        """Replace the reservation by the actual cost.

        A database failure here is logged, not raised: the engine settles in `finally`, and
        the reservation stays open until `storage.budget.release_stale` settles it from the
        usage ledger, which already holds the truth.
        """
        try:
            with self._session_factory() as session:
                store.settle(
                    session=session, reservation_id=self.reservation_id, actual_usd=actual_usd
                )
        except SQLAlchemyError as exc:
            log.warning(
                "budget_settle_failed",
                reservation_id=str(self.reservation_id),
                actual_usd=str(actual_usd),
                error=str(exc),
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
