"""The batcher's chunked ingest on real Postgres: each chunk its own transaction, in order."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.config import AppConfig, load_config
from storage import lane
from storage.budget import periods
from storage.db import session_scope
from storage.lane_models import LaneExchange
from storage.models import Job, LlmCall, TenantSpend
from tasks.batchlane.ingest import ingest
from tasks.batchlane.providers import ItemResult
from tests.integration.storage.test_lane_results import SWITCH, parked_batch

# 1,000 uncached input and 100 output tokens at gpt-5.6-luna's batch price ($0.1, $0.6 / M)
COST = Decimal("0.000160")


def _config(model: str) -> AppConfig:
    """The shipped config, with the test's own model priced as gpt-5.6-luna."""
    config = load_config(Path(__file__).parents[3] / "schemas" / "docqueue.toml")
    config.models[model] = config.models["gpt-5.6-luna"]
    return config


def _answers(job_ids: list[uuid.UUID]) -> list[ItemResult]:
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    body: dict[str, Any] = {"id": "chatcmpl-1", "choices": [], "usage": usage}
    return [
        ItemResult(lane.custom_id(job_id=j, seq=0, attempt=1), "answered", 200, body)
        for j in job_ids
    ]


def _spent(session: Session, tenant_id: uuid.UUID) -> Decimal:
    month, _ = periods(dt.datetime.now(dt.UTC))
    spent = session.scalar(
        select(TenantSpend.spent_usd).where(
            TenantSpend.tenant_id == tenant_id, TenantSpend.period == month
        )
    )
    return Decimal(spent or 0)


def test_results_in_several_chunks_are_billed_once_and_read_again_bill_nothing(
    pg_url: str,
) -> None:
    model = f"model-{uuid.uuid4().hex[:8]}"
    tenant_id, job_ids, _ = parked_batch(pg_url, 5, model)
    sessions = functools.partial(session_scope, pg_url)
    config = _config(model)
    first = ingest(
        sessions=sessions,
        config=config,
        provider="openai",
        results=iter(_answers(job_ids)),
        switch=SWITCH,
        chunk=2,
    )
    again = ingest(
        sessions=sessions,
        config=config,
        provider="openai",
        results=iter(_answers(job_ids)),
        switch=SWITCH,
        chunk=2,
    )
    assert (first, again) == ({"answered": 5}, {"skipped": 5})
    with session_scope(pg_url) as session:
        costs = session.scalars(select(LlmCall.cost_usd).where(LlmCall.tenant_id == tenant_id))
        assert sorted(costs) == [COST] * 5
        assert _spent(session, tenant_id) == COST * 5
        taped = session.scalar(select(func.count()).where(LaneExchange.job_id.in_(job_ids)))
        parked = session.scalar(
            select(func.count()).where(Job.tenant_id == tenant_id, Job.parked_at.is_not(None))
        )
    assert (taped, parked) == (5, 0)


def test_a_chunk_that_fails_stops_the_ingest_and_keeps_the_chunks_committed_before_it(
    pg_url: str,
) -> None:
    model = f"model-{uuid.uuid4().hex[:8]}"
    tenant_id, job_ids, _ = parked_batch(pg_url, 5, model)
    opened: list[int] = []

    def failing_second() -> AbstractContextManager[Session]:
        opened.append(1)
        if len(opened) == 2:
            raise RuntimeError("postgres went away")
        return session_scope(pg_url)

    config = _config(model)
    with pytest.raises(RuntimeError, match="went away"):
        ingest(
            sessions=failing_second,
            config=config,
            provider="openai",
            results=iter(_answers(job_ids)),
            switch=SWITCH,
            chunk=2,
        )
    assert len(opened) == 2  # the third chunk never started
    with session_scope(pg_url) as session:
        assert _spent(session, tenant_id) == COST * 2
    rest = ingest(
        sessions=functools.partial(session_scope, pg_url),
        config=config,
        provider="openai",
        results=_lines(_answers(job_ids)),  # a generator, as a results file is
        switch=SWITCH,
    )
    assert rest == {"skipped": 2, "answered": 3}
    with session_scope(pg_url) as session:
        assert _spent(session, tenant_id) == COST * 5


def _lines(results: list[ItemResult]) -> Iterator[ItemResult]:
    yield from results
