"""The batcher's set-based result verbs on real Postgres: one chunk, billed and woken once."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from storage import lane, lane_batches
from storage import lane_results as store
from storage.budget import periods
from storage.db import session_scope
from storage.jobs import claim, forget_tapes, usage_totals
from storage.lane_models import LaneExchange, LaneItem
from storage.models import BudgetReservation, Job, LlmCall, TenantSpend
from tests.support.store_seed import tenant_with_jobs

HELD = Decimal("0.010000")
SWITCH = store.Switch(
    before=dt.datetime.now(dt.UTC) + dt.timedelta(hours=26), max_resubmits=3, reason="leave"
)


def parked_batch(
    pg_url: str, n: int, model: str | None = None
) -> tuple[uuid.UUID, list[uuid.UUID], uuid.UUID]:
    """A tenant of its own with `n` jobs, each claimed, parked and packed in one batch."""
    tenant_id, job_ids = tenant_with_jobs(pg_url, prefix="ingest", n=n)
    model = model or f"model-{uuid.uuid4().hex[:8]}"  # its own: pack takes only these items
    for job_id in job_ids:
        with session_scope(pg_url) as session:
            assert claim(session=session, job_id=job_id, worker="w", lease_s=60) is not None
            parked = lane.ParkedRequest(
                job_id=job_id,
                tenant_id=tenant_id,
                attempt=1,
                tier="low",
                seq=0,
                provider="openai",
                model=model,
                body={"model": model, "messages": []},
                request_sha=f"sha-{job_id.hex}",
                request_bytes=40,
                reserved_usd=HELD,
            )
            lane.park(session=session, parked=parked, now=dt.datetime.now(dt.UTC))
    with session_scope(pg_url) as session:
        batch_id = lane_batches.pack(
            session=session,
            provider="openai",
            model=model,
            max_requests=1000,
            max_bytes=10**6,
            flush_size=1,
            max_wait=dt.timedelta(0),
        )
    assert batch_id is not None
    return tenant_id, job_ids, batch_id


def _item(job_id: uuid.UUID, tenant_id: uuid.UUID, **values: Any) -> LaneItem:
    """Another request of a job, straight into `lane_items`."""
    return LaneItem(
        custom_id=f"other-{uuid.uuid4().hex}",
        job_id=job_id,
        tenant_id=tenant_id,
        provider="openai",
        model="m",
        body={},
        request_sha="x",
        request_bytes=2,
        reserved_usd=Decimal(0),
        **values,
    )


def _ids(job_ids: list[uuid.UUID]) -> list[str]:
    return [lane.custom_id(job_id=j, seq=0, attempt=1) for j in job_ids]


def _answer(cost: str, status: int = 200) -> store.Answer:
    body = {"id": "chatcmpl-1"} if status == 200 else {"error": {"message": "boom"}}
    outcome = "ok" if status == 200 else f"http_{status}"
    return store.Answer(status, body, 100, 20, 40, 0, Decimal(cost), outcome)


def _resolve_all(pg_url: str, job_ids: list[uuid.UUID]) -> int:
    """Answer three items, error the fourth, expire the fifth: one chunk."""
    with session_scope(pg_url) as session:
        items = store.lock_items(session=session, custom_ids=_ids(job_ids))
        ends = [
            store.Resolution(items[c], "answered", _answer("0.004000")) for c in _ids(job_ids[:3])
        ]
        ends.append(store.Resolution(items[_ids(job_ids)[3]], "errored", _answer("0", 500)))
        ends.append(store.Resolution(items[_ids(job_ids)[4]], "expired", None))
        return store.resolve(session=session, resolutions=ends, switch=SWITCH)


def test_one_chunk_bills_settles_tapes_and_wakes_every_item_at_once(pg_url: str) -> None:
    tenant_id, job_ids, _ = parked_batch(pg_url, 5)
    assert _resolve_all(pg_url, job_ids) == 5
    with session_scope(pg_url) as session:
        calls = session.execute(
            select(LlmCall.job_id, LlmCall.outcome, LlmCall.cost_usd, LlmCall.cached_tokens).where(
                LlmCall.tenant_id == tenant_id
            )
        ).all()
        assert sorted((o, c, k) for _, o, c, k in calls) == [
            ("http_500", Decimal(0), 40),
            ("ok", Decimal("0.004"), 40),
            ("ok", Decimal("0.004"), 40),
            ("ok", Decimal("0.004"), 40),
        ]
        assert job_ids[4] not in {j for j, *_ in calls}  # expired: never billed
        month, _ = periods(dt.datetime.now(dt.UTC))
        spent, reserved = session.execute(
            select(TenantSpend.spent_usd, TenantSpend.reserved_usd).where(
                TenantSpend.tenant_id == tenant_id, TenantSpend.period == month
            )
        ).one()
        assert (spent, reserved) == (Decimal("0.012"), Decimal(0))
        open_holds = session.scalar(
            select(func.count()).where(
                BudgetReservation.tenant_id == tenant_id, BudgetReservation.settled_at.is_(None)
            )
        )
        assert open_holds == 0
        taped = session.scalar(select(func.count()).where(LaneExchange.job_id.in_(job_ids)))
        assert taped == 4
        states = session.execute(
            select(LaneItem.state, func.count())
            .where(LaneItem.tenant_id == tenant_id)
            .group_by(LaneItem.state)
        ).all()
        assert dict(states) == {"answered": 3, "errored": 1, "expired": 1}
        parked = session.scalar(
            select(func.count()).where(Job.tenant_id == tenant_id, Job.parked_at.is_not(None))
        )
        assert parked == 0


def test_a_chunk_read_again_locks_nothing_and_bills_nothing_twice(pg_url: str) -> None:
    tenant_id, job_ids, _ = parked_batch(pg_url, 5)
    _resolve_all(pg_url, job_ids)
    with session_scope(pg_url) as session:
        assert store.lock_items(session=session, custom_ids=_ids(job_ids)) == {}
        assert store.resolve(session=session, resolutions=[], switch=SWITCH) == 0
        spent = session.scalar(
            select(func.sum(TenantSpend.spent_usd)).where(TenantSpend.tenant_id == tenant_id)
        )
    assert spent == Decimal("0.024")  # the month and the day, each once


def test_a_job_with_another_request_still_out_stays_parked(pg_url: str) -> None:
    tenant_id, job_ids, batch_id = parked_batch(pg_url, 1)
    with session_scope(pg_url) as session:
        session.add(_item(job_ids[0], tenant_id, seq=1, state="packed", provider_batch_id=batch_id))
    with session_scope(pg_url) as session:
        items = store.lock_items(session=session, custom_ids=_ids(job_ids))
        end = store.Resolution(items[_ids(job_ids)[0]], "answered", _answer("0.001"))
        assert store.resolve(session=session, resolutions=[end], switch=SWITCH) == 0
        assert session.scalar(select(Job.parked_at).where(Job.id == job_ids[0])) is not None


def test_a_near_deadline_or_a_third_loss_sends_the_job_realtime_with_its_reason(
    pg_url: str,
) -> None:
    tenant_id, job_ids, _ = parked_batch(pg_url, 3)
    near = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with session_scope(pg_url) as session:
        session.execute(update(Job).where(Job.id == job_ids[0]).values(deadline=near))
        for _ in range(2):  # job 1 already lost this request twice
            session.add(_item(job_ids[1], tenant_id, seq=0, state="expired"))
    with session_scope(pg_url) as session:
        items = store.lock_items(session=session, custom_ids=_ids(job_ids))
        ends = [
            store.Resolution(items[_ids(job_ids)[0]], "answered", _answer("0.001")),
            store.Resolution(items[_ids(job_ids)[1]], "expired", None),
            store.Resolution(items[_ids(job_ids)[2]], "expired", None),
        ]
        assert store.resolve(session=session, resolutions=ends, switch=SWITCH) == 3
        lanes = dict(
            session.execute(select(Job.id, Job.lane_reason).where(Job.id.in_(job_ids))).all()
        )
    assert lanes[job_ids[0]] == "leave"  # the deadline is nearer than a batch round
    assert lanes[job_ids[1]] == "leave"  # its third loss of the same request
    assert lanes[job_ids[2]] != "leave"  # its first loss: it waits for the next round


def test_a_retry_forgets_the_tape_and_the_lost_requests_but_keeps_the_billed_ones(
    pg_url: str,
) -> None:
    tenant_id, job_ids, _ = parked_batch(pg_url, 5)
    _resolve_all(pg_url, job_ids)
    with session_scope(pg_url) as session:
        forget_tapes(session=session, job_ids=job_ids)
    with session_scope(pg_url) as session:
        states = session.execute(
            select(LaneItem.state, func.count())
            .where(LaneItem.tenant_id == tenant_id)
            .group_by(LaneItem.state)
        ).all()
        taped = session.scalar(select(func.count()).where(LaneExchange.job_id.in_(job_ids)))
    assert dict(states) == {"answered": 3, "errored": 1}  # the expired one counts no more
    assert taped == 0


def test_a_job_cancelled_while_its_request_is_out_adds_the_late_answer_to_its_cost(
    pg_url: str,
) -> None:
    tenant_id, job_ids, _ = parked_batch(pg_url, 1)
    with session_scope(pg_url) as session:
        session.add(  # an earlier round of the job, answered and billed
            LlmCall(
                job_id=job_ids[0],
                tenant_id=tenant_id,
                attempt=1,
                seq=0,
                tier="low",
                provider="openai",
                model="m",
                input_tokens=50,
                output_tokens=5,
                cost_usd=Decimal("0.002"),
                outcome="ok",
                lane="batch",
            )
        )
    with session_scope(pg_url) as session:  # what a cancel writes: the billed rows only
        session.execute(
            update(Job)
            .where(Job.id == job_ids[0])
            .values(status="cancelled", **usage_totals(Job.id, billed_only=True))
        )
        assert session.scalar(select(Job.cost_usd).where(Job.id == job_ids[0])) == Decimal("0.002")
    with session_scope(pg_url) as session:
        items = store.lock_items(session=session, custom_ids=_ids(job_ids))
        end = store.Resolution(items[_ids(job_ids)[0]], "answered", _answer("0.004"))
        store.resolve(session=session, resolutions=[end], switch=SWITCH)
        cost, tokens = session.execute(
            select(Job.cost_usd, Job.input_tokens).where(Job.id == job_ids[0])
        ).one()
    assert (cost, tokens) == (Decimal("0.006"), 150)
