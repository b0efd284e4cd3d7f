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
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from sqlalchemy import func, or_, select, update
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


def _lock_spend(
    session: Session, tenant_id: uuid.UUID, keys: list[str]
) -> dict[str, tuple[Decimal, Decimal]]:
    """Create missing spend rows, then lock them in period order; {period: (spent, reserved)}."""
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
    rows = session.execute(
        select(TenantSpend.period, TenantSpend.spent_usd, TenantSpend.reserved_usd)
        .where(TenantSpend.tenant_id == tenant_id, TenantSpend.period.in_(keys))
        .order_by(TenantSpend.period)
        .with_for_update()
    ).all()
    return {period: (spent, reserved) for period, spent, reserved in rows}


def reserve(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    job_id: uuid.UUID,
    amount_usd: Decimal,
    now: dt.datetime,
) -> uuid.UUID:
    """Hold `amount_usd` against the month (and day, if capped) budgets or raise BudgetExhausted."""
    if amount_usd < 0:
        raise ValueError(f"cannot reserve a negative amount: {amount_usd}")
    amount = amount_usd.quantize(MICRO_USD, rounding=ROUND_CEILING)
    monthly, daily = _budgets(session, tenant_id)
    month, day = periods(now)
    spend = _lock_spend(session, tenant_id, [month, day])
    for period, budget in ((month, monthly), (day, daily)):
        if budget is None:
            continue
        spent, reserved = spend[period]
        if spent + reserved + amount > budget:
            raise BudgetExhausted(
                period=period, budget=budget, spent=spent, reserved=reserved, requested=amount
            )
    session.execute(
        update(TenantSpend)
        .where(TenantSpend.tenant_id == tenant_id, TenantSpend.period.in_([month, day]))
        .values(reserved_usd=TenantSpend.reserved_usd + amount)
        .execution_options(synchronize_session=False)
    )
    reservation_id = uuid.uuid4()
    session.execute(
        insert(BudgetReservation).values(
            id=reservation_id,
            tenant_id=tenant_id,
            job_id=job_id,
            month=month,
            day=day,
            amount_usd=amount,
        )
    )
    return reservation_id


def settle(*, session: Session, reservation_id: uuid.UUID, actual_usd: Decimal) -> bool:
    """Replace the reservation by `actual_usd` in both periods; False if already settled."""
    if actual_usd < 0:
        raise ValueError(f"actual cost cannot be negative: {actual_usd}")
    actual = actual_usd.quantize(MICRO_USD, rounding=ROUND_HALF_UP)
    row = session.execute(
        update(BudgetReservation)
        .where(BudgetReservation.id == reservation_id, BudgetReservation.settled_at.is_(None))
        .values(settled_at=func.now())
        .returning(
            BudgetReservation.tenant_id,
            BudgetReservation.month,
            BudgetReservation.day,
            BudgetReservation.amount_usd,
        )
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return False
    tenant_id, month, day, amount = row
    for period in sorted([month, day]):  # one UPDATE per row: locks in period order
        session.execute(
            update(TenantSpend)
            .where(TenantSpend.tenant_id == tenant_id, TenantSpend.period == period)
            .values(
                reserved_usd=TenantSpend.reserved_usd - amount,
                spent_usd=TenantSpend.spent_usd + actual,
            )
            .execution_options(synchronize_session=False)
        )
    return True


def release_stale(*, session: Session, older_than: dt.timedelta, limit: int = 1000) -> int:
    """Settle reservations open longer than `older_than` (crashed workers) from the ledger.

    The actual cost of a reservation is what `llm_calls` recorded for its job from its
    creation until the job's next reservation (a job's calls are sequential, so at most
    one of its reservations is open at a time). `older_than` must exceed the longest a live
    call can take, or a slow call's later ledger rows would miss its settlement.
    Reservations being settled concurrently are skipped (SKIP LOCKED).
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
    stale = session.execute(
        select(res.id, ledger_cost)
        .where(res.settled_at.is_(None), res.created_at < func.now() - older_than)
        .order_by(res.created_at)
        .limit(limit)
        .with_for_update(of=res, skip_locked=True)
    ).all()
    released = 0
    for reservation_id, actual in stale:
        if settle(session=session, reservation_id=reservation_id, actual_usd=Decimal(actual)):
            released += 1
    return released


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
