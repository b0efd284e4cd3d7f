"""The batcher SIGKILLed at its two risky moments (real processes): nothing lost or billed twice.

1. Between the provider's create and our record of it: the simulator holds the create's
   answer (`batch_create_hang_s`) after registering the batch, so the batch exists there while
   our `provider_batches` row is still `preparing`. The restarted batcher must adopt it.
2. While batches are submitted and their results only partly ingested.
Design under test: the docstrings of tasks/batchlane/batcher.py and storage/lane_batches.py.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.batchlane.crash_support import (
    RESOLVED,
    assert_nothing_lost_or_billed_twice,
    item_states,
    rows,
    sim_batch_ids,
    wait_finished,
)
from tests.support.lanes import LANE
from tests.support.stacks import LiveStack, StackFactory
from tests.support.waits import wait_for

# SIGKILL tests with long simulator delays: the fault suite (`make test-faults`).
pytestmark = [pytest.mark.e2e, pytest.mark.faults]

# The tier whose first model is the provider's (schemas/docqueue.toml [tiers]).
TIER = {"openai": "low", "anthropic": "high"}
PROVIDERS = pytest.mark.parametrize("provider", sorted(TIER))
HANG_S = 120.0  # far longer than the test needs: only the kill ends the hung create
MEMO = "Memo {i:05d} from the {tag} team. Spending review notes for March, approved by finance."


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[LiveStack]:
    """Simulator, API, scheduler, one worker and the batcher, batch rounds of about a second."""
    made = stack_factory(name="lanecrash", overrides={"batch_lane": LANE}, batcher=True)
    yield made
    made.close()


def _submit(live: LiveStack, client: httpx.Client, provider: str, n: int, tag: str) -> str:
    docs: list[dict[str, Any]] = [
        {"text": MEMO.format(i=i, tag=tag), "key": f"{tag}-{i}"} for i in range(n)
    ]
    body = {"schema": "document_summary", "tier": TIER[provider], "documents": docs}
    resp = client.post("/v1/batches", json={**body, "lane": "batch"})
    assert resp.status_code == 202, resp.text
    return str(resp.json()["id"])


def _kill_batcher(live: LiveStack) -> None:
    live.stack.signal("batcher", signal.SIGKILL)
    assert live.stack.procs["batcher"].wait(timeout=10) == -signal.SIGKILL


@PROVIDERS
def test_a_batcher_killed_after_the_providers_create_adopts_that_batch_and_sends_nothing_twice(
    stack: LiveStack, provider: str
) -> None:
    total = 60
    tenant = stack.tenant(f"create-crash-{provider}")
    stack.sim("/sim/reset", {})
    rows_before, sim_before = set(rows(stack)), sim_batch_ids(stack, provider)
    stack.sim("/sim/config", {"batch_delay_s": 0.5, "batch_create_hang_s": HANG_S})

    def created_but_not_recorded() -> tuple[set[str], list[Any]] | None:
        at_sim = sim_batch_ids(stack, provider) - sim_before
        ours = [r for k, r in rows(stack).items() if k not in rows_before]
        preparing = [r for r in ours if r.state == "preparing"]
        return (at_sim, preparing) if at_sim and preparing else None

    with stack.client(tenant) as client:
        batch_id = _submit(stack, client, provider, total, f"create-{provider}")
        at_sim, preparing = wait_for(created_but_not_recorded, timeout=120, every=0.1)
        _kill_batcher(stack)
        # one create under way, hung at the provider: the only batch there. Rows packed in
        # the same round wait behind it (the batcher creates them oldest first).
        assert len(at_sim) == 1, at_sim
        crashed, lost = min(preparing, key=lambda r: r.created_at).id, next(iter(at_sim))
        assert rows(stack)[crashed].state == "preparing"  # the create's answer never came back
        stack.sim("/sim/config", {"batch_create_hang_s": 0})
        stack.stack.batcher()
        state = wait_finished(client, batch_id, timeout=240)

    assert state["counts"]["succeeded"] == total, state
    sim = assert_nothing_lost_or_billed_twice(
        stack,
        provider=provider,
        batch_id=batch_id,
        total=total,
        rows_before=rows_before,
        sim_before=sim_before,
    )
    assert rows(stack)[crashed].provider_batch_id == lost  # adopted, not created again
    if provider == "openai":  # adopted by its tag, which names our row
        assert sim[lost].submission == str(crashed)
    print(
        f"\n{provider}: {len(preparing)} rows preparing at the kill; {len(sim)} provider"
        f" batches in all; the crashed create {lost} adopted"
    )


@PROVIDERS
def test_a_batcher_killed_mid_ingest_resumes_every_open_batch_and_bills_each_answer_once(
    stack: LiveStack, provider: str
) -> None:
    total = 150
    tenant = stack.tenant(f"ingest-crash-{provider}")
    stack.sim("/sim/reset", {})
    rows_before, sim_before = set(rows(stack)), sim_batch_ids(stack, provider)
    stack.sim("/sim/config", {"batch_delay_s": 2.0})

    with stack.client(tenant) as client:
        batch_id = _submit(stack, client, provider, total, f"ingest-{provider}")

        def partly_ingested() -> dict[str, int] | None:
            states = item_states(stack, batch_id)
            resolved = sum(states[s] for s in RESOLVED)
            submitted = [
                r for k, r in rows(stack).items() if k not in rows_before and r.state == "submitted"
            ]
            return dict(states) if resolved and states["packed"] and submitted else None

        at_kill = wait_for(partly_ingested, timeout=120, every=0.05)
        _kill_batcher(stack)
        left = item_states(stack, batch_id)
        open_rows = [
            r for k, r in rows(stack).items() if k not in rows_before and r.state != "done"
        ]
        assert left["packed"] > 0  # results still owed when the batcher died
        assert sum(left[s] for s in RESOLVED) > 0
        assert open_rows
        stack.stack.batcher()
        state = wait_finished(client, batch_id, timeout=240)

    assert state["counts"]["succeeded"] == total, state
    sim = assert_nothing_lost_or_billed_twice(
        stack,
        provider=provider,
        batch_id=batch_id,
        total=total,
        rows_before=rows_before,
        sim_before=sim_before,
    )
    print(
        f"\n{provider}: killed at items {at_kill} with {len(open_rows)} provider batches open;"
        f" {len(sim)} provider batches in all"
    )


# ---------------------------------------------------------------------------- sibling batches

SPLIT = 10  # Anthropic items per provider batch: every packed row holds exactly this many
SIBLING_DELAY_S = 90.0  # the adopted batch stays unfinished this long at the simulator
CREATE_WITHIN_S = 20.0  # from the restarted batcher's start: a few rounds of poll_s


def test_a_row_the_crash_left_uncreated_is_created_at_once_not_matched_to_a_sibling_batch(
    stack_factory: StackFactory,
) -> None:
    lane = {**LANE, "anthropic_max_requests": SPLIT}
    live = stack_factory(name="lanesplit", overrides={"batch_lane": lane}, batcher=False)
    try:
        total = 3 * SPLIT
        tenant = live.tenant("split")
        live.sim("/sim/config", {"batch_delay_s": SIBLING_DELAY_S, "batch_create_hang_s": HANG_S})
        with live.client(tenant) as client:
            batch_id = _submit(live, client, "anthropic", total, "split")
            # everything parked before the batcher starts: one round packs three rows of ten
            wait_for(lambda: item_states(live, batch_id)["parked"] == total, timeout=120)
            live.stack.batcher()

            def hung_with_rows_behind() -> bool:
                waiting = [r for r in rows(live).values() if r.state == "preparing"]
                return len(sim_batch_ids(live, "anthropic")) == 1 and len(waiting) == total // SPLIT

            wait_for(hung_with_rows_behind, timeout=60, every=0.1)
            _kill_batcher(live)
            live.sim("/sim/config", {"batch_create_hang_s": 0})
            live.stack.batcher()
            log = live.stack.run_dir / "batcher.log"
            # a loaded box takes seconds to import it: time its rounds, not its start-up
            wait_for(lambda: log.read_text().count('"batcher_started"') == 2, timeout=90)
            restarted = time.monotonic()
            # the first row is adopted; the other two were never created: create them now,
            # long before the adopted sibling (same size, unfinished) ends
            wait_for(
                lambda: {r.state for r in rows(live).values()} == {"submitted"},
                timeout=CREATE_WITHIN_S,
                every=0.1,
            )
            print(f"\nall three rows submitted {time.monotonic() - restarted:.1f} s after restart")
            state = wait_finished(client, batch_id, timeout=240)
        assert state["counts"]["succeeded"] == total, state
        sim = assert_nothing_lost_or_billed_twice(
            live,
            provider="anthropic",
            batch_id=batch_id,
            total=total,
            rows_before=set(),
            sim_before=set(),
        )
        assert len(sim) == total // SPLIT
        assert "batcher_round_failed" not in live.stack.log_tail("batcher", 400)
    finally:
        live.close()
