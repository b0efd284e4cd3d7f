"""What the batcher crash tests share: the simulator's own view of its batches, and our rows."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
from sqlalchemy import select

from storage.lane_models import LaneItem, ProviderBatch
from storage.models import Job, LlmCall
from tests.support.stacks import LiveStack

RESOLVED = ("answered", "errored", "expired", "cancelled")


@dataclass(frozen=True)
class SimBatch:
    """One batch as the simulator holds it: its id, our submission tag, the custom_ids sent."""

    id: str
    submission: str | None  # OpenAI metadata `docqueue_submission`; Anthropic keeps none
    custom_ids: tuple[str, ...]


def openai_sim(live: LiveStack) -> openai.OpenAI:
    """The official OpenAI SDK on the stack's simulator."""
    return openai.OpenAI(base_url=f"{live.sim_url}/v1", api_key="sk-test", max_retries=0)


def anthropic_sim(live: LiveStack) -> anthropic.Anthropic:
    """The official Anthropic SDK on the stack's simulator."""
    return anthropic.Anthropic(base_url=live.sim_url, api_key="sk-ant-test", max_retries=0)


def sim_batch_ids(live: LiveStack, provider: str) -> set[str]:
    """Every batch id the simulator lists for a provider, ended or not."""
    if provider == "openai":
        return {b.id for b in openai_sim(live).batches.list(limit=100)}
    return {b.id for b in anthropic_sim(live).messages.batches.list(limit=100)}


def sim_batches(live: LiveStack, provider: str, ids: set[str]) -> dict[str, SimBatch]:
    """The simulator's batches among `ids`, with the custom_ids each was sent (all ended)."""
    found: dict[str, SimBatch] = {}
    if provider == "openai":
        client = openai_sim(live)
        for batch in client.batches.list(limit=100):
            if batch.id in ids:
                data = client.files.content(batch.input_file_id).content
                sent = tuple(json.loads(line)["custom_id"] for line in data.splitlines() if line)
                tag = (batch.metadata or {}).get("docqueue_submission")
                found[batch.id] = SimBatch(batch.id, tag, sent)
        return found
    messages = anthropic_sim(live).messages
    for message_batch in messages.batches.list(limit=100):
        if message_batch.id in ids:
            sent = tuple(r.custom_id for r in messages.batches.results(message_batch.id))
            found[message_batch.id] = SimBatch(message_batch.id, None, sent)
    return found


def billed(live: LiveStack, sim_ids: set[str]) -> list[dict[str, Any]]:
    """The items the simulator billed in these batches."""
    items: list[dict[str, Any]] = httpx.get(f"{live.sim_url}/sim/batches/billed").json()
    return [b for b in items if b["batch_id"] in sim_ids]


def rows(live: LiveStack) -> dict[uuid.UUID, ProviderBatch]:
    """Every provider_batches row, by submission id."""
    with live.session() as session:
        found = {b.id: b for b in session.scalars(select(ProviderBatch))}
        session.expunge_all()
    return found


def item_states(live: LiveStack, batch_id: str) -> Counter[str]:
    """How many lane items of one API batch's jobs are in each state."""
    with live.session() as session:
        return Counter(
            session.scalars(
                select(LaneItem.state)
                .join(Job, Job.id == LaneItem.job_id)
                .where(Job.batch_id == uuid.UUID(batch_id))
            )
        )


def wait_finished(client: httpx.Client, batch_id: str, timeout: float) -> dict[str, Any]:
    """Poll an API batch until it has finished."""
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = client.get(f"/v1/batches/{batch_id}").json()
        if state.get("finished_at"):
            return state
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} did not finish: {state}")


def assert_nothing_lost_or_billed_twice(
    live: LiveStack,
    *,
    provider: str,
    batch_id: str,
    total: int,
    rows_before: set[uuid.UUID],
    sim_before: set[str],
) -> dict[str, SimBatch]:
    """The crash invariants, on the rows and simulator batches made since the `before` sets."""
    with live.session() as session:
        jobs = list(session.scalars(select(Job).where(Job.batch_id == uuid.UUID(batch_id))))
        ids = [j.id for j in jobs]
        calls = list(session.scalars(select(LlmCall).where(LlmCall.job_id.in_(ids))))
        items = list(session.scalars(select(LaneItem).where(LaneItem.job_id.in_(ids))))
        session.expunge_all()
    assert len(jobs) == total
    assert Counter(j.status for j in jobs) == {"succeeded": total}, [
        (j.status, j.error_message) for j in jobs if j.status != "succeeded"
    ]
    mine = {k: r for k, r in rows(live).items() if k not in rows_before}
    assert {r.state for r in mine.values()} == {"done"}, [(r.id, r.state) for r in mine.values()]
    assert {r.provider for r in mine.values()} == {provider}
    sim = sim_batches(live, provider, sim_batch_ids(live, provider) - sim_before)
    # one provider batch per row: a create lost to the crash was adopted, not sent again
    assert sorted(str(r.provider_batch_id) for r in mine.values()) == sorted(sim)
    sent = Counter(c for b in sim.values() for c in b.custom_ids)
    assert [c for c, n in sent.items() if n > 1] == []  # no request in two provider batches
    assert set(sent) == {i.custom_id for i in items}
    paid = billed(live, set(sim))
    paid_ids = Counter(b["custom_id"] for b in paid)
    assert [c for c, n in paid_ids.items() if n > 1] == []
    assert [c for c in calls if c.outcome == "in_flight"] == []
    assert {c.lane for c in calls} == {"batch"}  # nothing went realtime
    answered = [c for c in calls if c.outcome == "ok"]
    assert len(answered) == len(paid)
    assert sum(c.input_tokens for c in answered) == sum(b["input_tokens"] for b in paid)
    assert sum(c.output_tokens for c in answered) == sum(b["output_tokens"] for b in paid)
    assert {i.custom_id for i in items if i.state == "answered"} == set(paid_ids)
    per_request = Counter((i.job_id, i.seq) for i in items if i.state == "answered")
    assert [k for k, n in per_request.items() if n > 1] == []  # no request answered twice
    assert all(j.cost_usd == sum(c.cost_usd for c in calls if c.job_id == j.id) for j in jobs)
    return sim
