"""Budget reservations: hold a call's worst-case cost first, replace it by the actual after.

Every tenant has one `tenant_spend` row per calendar month ('YYYY-MM') and per day
('YYYY-MM-DD', UTC). A reservation adds its amount to `reserved_usd` of both rows, and only
if `spent + reserved + amount` stays within each capped period's budget; the check and the
add happen under row locks on those rows, so concurrent reservations serialise per tenant
and can never together exceed the budget.

Locks are always taken in the same order (reservation row first, then spend rows sorted by
period, and 'YYYY-MM' sorts before 'YYYY-MM-DD'), so reserve/settle/release never deadlock.

Invariant: settled spend stays within budget because a call's actual cost is at most the
reserved worst case. If an estimate was wrong and the actual is larger, the real cost is
still recorded (the money is gone; hiding it would be worse), so spend can exceed the
budget by that difference; this must be rare, and the next reservation is then refused.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, TextClause, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased

from storage.errors import BudgetExhausted, NotFound
from storage.models import BudgetReservation, LlmCall, Tenant, TenantSpend

MICRO_USD = Decimal("0.000001")  # the USD columns' scale


def periods(now: dt.datetime) -> tuple[str, str]:
    """The (month, day) period keys of `now` in UTC: ('2026-11', '2026-11-23')."""
    utc = now.astimezone(dt.UTC) if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return utc.strftime("%Y-%m"), utc.strftime("%Y-%m-%d")


def _budgets(session: Session, tenant_id: uuid.UUID) -> tuple[Decimal, Decimal | None]:
    row = session.execute(
        select(Tenant.monthly_budget_usd, Tenant.daily_budget_usd).where(Tenant.id == tenant_id)
    ).first()
    if row is None:
        raise NotFound("tenant", tenant_id)
    return row[0], row[1]


def _create_spend(session: Session, tenant_id: uuid.UUID, keys: list[str]) -> None:
    """Create the tenant's missing spend rows for these periods (existing rows untouched)."""
    session.execute(
        insert(TenantSpend)
        .values(
            [
                {"tenant_id": tenant_id, "period": p, "spent_usd": 0, "reserved_usd": 0}
                for p in sorted(keys)
            ]
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "period"])
    )


# One statement, so the spend rows stay locked only while Postgres runs it (with an
# autocommit session: no client round trip happens under the lock). It locks both spend
# rows in period order, checks every capped period, and only if all pass adds the amount
# to both and records the reservation. Rows missing are created by the caller first.
# storage.held_calls adds a call's ledger row to these CTEs.
RESERVE_CTES = """
    WITH spend AS (
        SELECT s.period, s.spent_usd, s.reserved_usd,
               CASE WHEN s.period = :month THEN t.monthly_budget_usd
                    ELSE t.daily_budget_usd END AS budget
        FROM tenant_spend s JOIN tenants t ON t.id = s.tenant_id
        WHERE s.tenant_id = :tenant_id AND s.period IN (:month, :day)
        ORDER BY s.period
        FOR UPDATE OF s
    ), verdict AS (
        SELECT count(*) = 2
               AND bool_and(budget IS NULL OR spent_usd + reserved_usd + :amount <= budget) AS ok
        FROM spend
    ), bump AS (
        UPDATE tenant_spend s SET reserved_usd = s.reserved_usd + :amount
        FROM verdict v
        WHERE v.ok AND s.tenant_id = :tenant_id AND s.period IN (:month, :day)
        RETURNING s.period
    ), held AS (
        INSERT INTO budget_reservations (id, tenant_id, job_id, month, day, amount_usd, lane)
        SELECT :reservation_id, :tenant_id, :job_id, :month, :day, :amount, :lane
        FROM verdict WHERE ok
        RETURNING id
    )
"""
_RESERVE = text(
    RESERVE_CTES  # noqa: S608 - constant SQL pieces, no input
    + """
    SELECT period, spent_usd, reserved_usd, budget, (SELECT count(*) FROM held) AS held
    FROM spend ORDER BY period
    """
)

# Same idea: mark the reservation settled (its row first), then lock both spend rows in
# period order and move the amount from reserved to spent, in one statement. `{actual}` is
# the SQL of the amount spent: a parameter here, a choice in storage.held_calls.
SETTLE_CTES = """
    r AS (
        UPDATE budget_reservations SET settled_at = now()
        WHERE id = :reservation_id AND settled_at IS NULL
        RETURNING tenant_id, month, day, amount_usd
    ), locked AS (
        SELECT s.tenant_id, s.period, r.amount_usd
        FROM tenant_spend s JOIN r ON s.tenant_id = r.tenant_id AND s.period IN (r.month, r.day)
        ORDER BY s.period
        FOR UPDATE OF s
    ), moved AS (
        UPDATE tenant_spend s
        SET reserved_usd = s.reserved_usd - l.amount_usd, spent_usd = s.spent_usd + {actual}
        FROM locked l WHERE s.tenant_id = l.tenant_id AND s.period = l.period
        RETURNING s.period
    )
"""
_SETTLE = text(
    "WITH "  # noqa: S608 - constant SQL pieces, no input
    + SETTLE_CTES.format(actual=":actual")
    + "SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM moved)"
)


def reservation_params(
    *,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    amount_usd: Decimal,
    now: dt.datetime,
    lane: str = "realtime",
    reservation_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The parameters of RESERVE_CTES (a new reservation id unless given), amount rounded up."""
    if amount_usd < 0:
        raise ValueError(f"cannot reserve a negative amount: {amount_usd}")
    month, day = periods(now)
    return {
        "tenant_id": tenant_id,
        "job_id": job_id,
        "month": month,
        "day": day,
        "amount": amount_usd.quantize(MICRO_USD, rounding=ROUND_CEILING),
        "reservation_id": reservation_id or uuid.uuid4(),
        "lane": lane,
    }


def run_reservation(*, session: Session, statement: TextClause, params: dict[str, Any]) -> Row[Any]:
    """Run a statement built on RESERVE_CTES; its first row if held, else BudgetExhausted."""
    rows = session.execute(statement, params).all()
    if len(rows) < 2:  # the first reservation of this month or day: create the rows, retry
        _budgets(session, params["tenant_id"])  # NotFound for an unknown tenant
        _create_spend(session, params["tenant_id"], [params["month"], params["day"]])
        rows = session.execute(statement, params).all()
    if rows and rows[0].held:
        return rows[0]
    amount = params["amount"]
    for row in rows:  # month sorts first: checked first
        period, spent, reserved, budget = row[0], row[1], row[2], row[3]
        if budget is not None and spent + reserved + amount > budget:
            raise BudgetExhausted(
                period=period, budget=budget, spent=spent, reserved=reserved, requested=amount
            )
    raise NotFound("tenant spend rows", params["tenant_id"])  # pragma: no cover - deleted


def reserve(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    amount_usd: Decimal,
    now: dt.datetime,
    lane: str = "realtime",
) -> uuid.UUID:
    """Hold `amount_usd` against the month (and day, if capped) budgets or raise BudgetExhausted.

    A `batch` hold waits for a provider batch item (up to its window): the ledger never
    settles it, the batcher does when the item's result arrives or it expires.
    """
    params = reservation_params(
        tenant_id=tenant_id, job_id=job_id, amount_usd=amount_usd, now=now, lane=lane
    )
    run_reservation(session=session, statement=_RESERVE, params=params)
    reservation_id: uuid.UUID = params["reservation_id"]
    return reservation_id


def settle(*, session: Session, reservation_id: uuid.UUID, actual_usd: Decimal) -> bool:
    """Replace the reservation by `actual_usd` in both periods; False if already settled."""
    if actual_usd < 0:
        raise ValueError(f"actual cost cannot be negative: {actual_usd}")
    actual = actual_usd.quantize(MICRO_USD, rounding=ROUND_HALF_UP)
    row = session.execute(_SETTLE, {"reservation_id": reservation_id, "actual": actual}).one()
    return bool(row[0])


def _settle_from_ledger(session: Session, *, where: ColumnElement[bool], limit: int | None) -> int:
    """Settle the open reservations matching `where` at what the ledger billed for them.

    The actual cost of a reservation is what `llm_calls` recorded for its job from its
    creation until the job's next reservation (a job's calls are sequential, so at most
    one of its reservations is open at a time). Ledger rows still `in_flight` carry the
    reserved worst case. Reservations being settled concurrently are skipped (SKIP LOCKED).
    """
    res = BudgetReservation
    later = aliased(BudgetReservation)
    next_created = (
        select(func.min(later.created_at))
        .where(later.job_id == res.job_id, later.created_at > res.created_at)
        .correlate(res)  # to the outer reservation, two levels up
        .scalar_subquery()
    )
    ledger_cost = (
        select(func.coalesce(func.sum(LlmCall.cost_usd), 0))
        .where(
            LlmCall.job_id == res.job_id,
            LlmCall.created_at >= res.created_at,
            or_(next_created.is_(None), LlmCall.created_at < next_created),
        )
        .scalar_subquery()
    )
    query = select(res.id, ledger_cost).where(
        res.settled_at.is_(None), res.lane == "realtime", where
    )
    rows = session.execute(
        query.order_by(res.created_at).limit(limit).with_for_update(of=res, skip_locked=True)
    ).all()
    return sum(
        settle(session=session, reservation_id=reservation_id, actual_usd=Decimal(actual))
        for reservation_id, actual in rows
    )


def release_stale(*, session: Session, older_than: dt.timedelta, limit: int = 1000) -> int:
    """Settle reservations open longer than `older_than` (crashed workers) from the ledger.

    `older_than` must exceed the longest a live call can take, or a slow call's later
    ledger rows would miss its settlement.
    """
    where = BudgetReservation.created_at < func.now() - older_than
    return _settle_from_ledger(session, where=where, limit=limit)


def release_for_jobs(*, session: Session, job_ids: Sequence[uuid.UUID]) -> int:
    """Settle the open reservations of these jobs from the ledger now (their worker died).

    The caller took the jobs from their dead worker in this transaction, so no call of
    theirs is still to come: waiting for the hard time limit would only keep the tenant's
    budget held.
    """
    if not job_ids:
        return 0
    where = BudgetReservation.job_id.in_(list(job_ids))
    return _settle_from_ledger(session, where=where, limit=None)


def usage_summary(
    *, session: Session, tenant_id: uuid.UUID, now: dt.datetime
) -> dict[str, Decimal | None]:
    """The tenant's budgets and this month's and today's spent and reserved amounts."""
    monthly, daily = _budgets(session, tenant_id)
    month, day = periods(now)
    rows = session.execute(
        select(TenantSpend.period, TenantSpend.spent_usd, TenantSpend.reserved_usd).where(
            TenantSpend.tenant_id == tenant_id, TenantSpend.period.in_([month, day])
        )
    ).all()
    spend = {period: (spent, reserved) for period, spent, reserved in rows}
    zero = (Decimal(0), Decimal(0))
    return {
        "monthly_budget_usd": monthly,
        "daily_budget_usd": daily,
        "month_spent_usd": spend.get(month, zero)[0],
        "month_reserved_usd": spend.get(month, zero)[1],
        "day_spent_usd": spend.get(day, zero)[0],
        "day_reserved_usd": spend.get(day, zero)[1],
    }
