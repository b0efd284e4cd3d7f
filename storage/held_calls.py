"""A realtime call's budget hold and its ledger row, each pair written in one statement.

Every provider call holds its worst case and opens an `in_flight` ledger row before it is
sent, then completes the row and settles the hold when it answers. Done apart, that is
four statements per call; here it is two: `open_held` runs the reservation's CTEs
(storage.budget.RESERVE_CTES) and inserts the row only if the hold was granted, and
`close_settled` completes the row and settles the hold together. Lock order is the
ledger row, then the reservation, then the spend rows in period order, as everywhere.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.budget import (
    MICRO_USD,
    RESERVE_CTES,
    SETTLE_CTES,
    reservation_params,
    run_reservation,
)
from storage.ledger import IN_FLIGHT, CallResult, CallRow

_OPEN_HELD = text(
    RESERVE_CTES  # noqa: S608 - constant SQL pieces, no input
    + """
    , opened AS (
        INSERT INTO llm_calls (job_id, tenant_id, attempt, seq, tier, provider, model, chunk,
                               input_tokens, output_tokens, cached_tokens, cache_write_tokens,
                               cost_usd, latency_ms, outcome, status_code)
        SELECT :job_id, :tenant_id, :attempt, :seq, :tier, :provider, :model,
               CAST(:chunk AS integer),
               0, 0, 0, 0, :reserved_cost, 0, :in_flight, NULL
        FROM verdict WHERE ok
        RETURNING id
    )
    SELECT period, spent_usd, reserved_usd, budget, (SELECT count(*) FROM held) AS held,
           (SELECT id FROM opened) AS call_id
    FROM spend ORDER BY period
    """
)

# The hold settles at the call's cost when this statement completed its row; when the row
# was no longer in flight (the reconciler billed it as `unknown` at its reserved cost),
# at that reserved cost, so spend equals what the ledger says.
_CLOSE_ROW = """
    WITH closed AS (
        UPDATE llm_calls
        SET input_tokens = :input_tokens, output_tokens = :output_tokens,
            cached_tokens = :cached_tokens, cache_write_tokens = :cache_write_tokens,
            cost_usd = :cost_usd, latency_ms = :latency_ms, outcome = :outcome,
            status_code = :status_code
        WHERE id = :call_id AND outcome = :in_flight
        RETURNING id
    ),
"""
_CLOSE_SETTLED = text(
    _CLOSE_ROW  # noqa: S608 - constant SQL pieces, no input
    + SETTLE_CTES.format(
        actual="CASE WHEN EXISTS (SELECT 1 FROM closed) THEN :actual ELSE :reserved END"
    )
    + "SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM r)"
)


def open_held(
    *,
    session: Session,
    row: CallRow,
    amount_usd: Decimal,
    now: dt.datetime,
    reservation_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, int]:
    """Hold `amount_usd` and open the call's in-flight row; (reservation id, row id).

    Raises storage.errors.BudgetExhausted, writing neither, when a capped period has no
    room. The row carries `row.cost_usd` (the reserved worst case) until it is closed.
    """
    params = reservation_params(
        tenant_id=row.tenant_id,
        job_id=row.job_id,
        amount_usd=amount_usd,
        now=now,
        reservation_id=reservation_id,
    )
    params.update(
        attempt=row.attempt,
        seq=row.seq,
        tier=row.tier,
        provider=row.provider,
        model=row.model,
        chunk=row.chunk,
        reserved_cost=row.cost_usd,
        in_flight=IN_FLIGHT,
    )
    held = run_reservation(session=session, statement=_OPEN_HELD, params=params)
    return params["reservation_id"], int(held.call_id)


def close_settled(
    *,
    session: Session,
    call_id: int,
    result: CallResult,
    reservation_id: uuid.UUID,
    reserved_usd: Decimal,
) -> tuple[bool, bool]:
    """Complete the call's row and settle its hold; (row closed now, hold settled now).

    Repeating it changes nothing: the row is completed only while in flight and the hold
    settles once.
    """
    if result.cost_usd < 0 or reserved_usd < 0:
        raise ValueError("a call's cost cannot be negative")
    params = {
        **result.__dict__,
        "call_id": call_id,
        "in_flight": IN_FLIGHT,
        "reservation_id": reservation_id,
        "actual": result.cost_usd.quantize(MICRO_USD, rounding=ROUND_HALF_UP),
        "reserved": reserved_usd.quantize(MICRO_USD, rounding=ROUND_HALF_UP),
    }
    closed, settled = session.execute(_CLOSE_SETTLED, params).one()
    return bool(closed), bool(settled)
