"""One tenant's webhook receiver that never answers slows nobody else's jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.hanging_receiver import HangingReceiver
from tests.support.seeding import seed
from tests.support.stacks import FaultStackFactory, LiveStack, WorkerSpec
from tests.support.tenants import Tenant
from tests.support.waits import wait_until, wait_until_terminal

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

JOBS = 30
HOOKED = 24  # tenant A's jobs, each owing a delivery to the stuck receiver
THREADS = 4
# As many as the extraction threads: sharing them, A's deliveries alone would stall B; and
# fewer than the webhook consumer's 8 threads, so the peak below is the cap at work.
TENANT_SLOTS = THREADS


@pytest.fixture
def receiver() -> Iterator[HangingReceiver]:
    stuck = HangingReceiver()
    yield stuck
    stuck.close()


def _run(live: LiveStack, tenant: Tenant, round_no: int) -> float:
    """Seconds for `JOBS` new jobs of `tenant` to finish, from their insertion."""
    texts = [f"Round {round_no} memo {i}: the depot at {i} is on schedule." for i in range(JOBS)]
    started = time.monotonic()
    seed(live, texts, tenant=tenant)
    counts = wait_until_terminal(live, JOBS * round_no, timeout=120, tenant=tenant, every=0.1)
    assert counts == {"succeeded": JOBS * round_no}
    return time.monotonic() - started


def test_a_tenant_whose_receiver_never_answers_does_not_slow_another_tenants_jobs(
    fault_stack: FaultStackFactory, receiver: HangingReceiver
) -> None:
    live = fault_stack(
        name="stuckhook",
        overrides={"webhooks": {"timeout_s": 10.0, "tenant_concurrency": TENANT_SLOTS}},
        workers=[WorkerSpec(name="w0", concurrency=THREADS)],
        sim_latency_ms=200,
        extra_env={"WEBHOOK_ALLOW_PRIVATE": "true"},
        webhooks=True,
    )
    a, b = live.tenant("hooked"), live.tenant("bystander")
    _run(live, b, 1)  # warm-up: the first calls open every pool and client
    baseline = _run(live, b, 2)

    with live.client(a) as client:
        for i in range(HOOKED):
            resp = client.post(
                "/v1/jobs",
                json={
                    "schema": "document_summary",
                    "tier": "low",
                    "text": f"Hooked memo {i}: the pier is closed for repairs.",
                    "webhook_url": f"{receiver.url}/hook/{i}",
                },
            )
            assert resp.status_code == 202, resp.text
    wait_until_terminal(live, HOOKED, timeout=120, tenant=a)
    wait_until(lambda: receiver.open > 0, timeout=30, what="deliveries stuck at the receiver")

    during = _run(live, b, 3)
    stuck_now = receiver.open
    print(
        f"\ntenant B's {JOBS} jobs: {baseline:.2f} s alone, {during:.2f} s while tenant A's "
        f"{HOOKED} deliveries hang ({stuck_now} connections open, peak {receiver.peak}, "
        f"{receiver.accepted} accepted)"
    )
    assert stuck_now > 0, "the receiver let go: B's round did not overlap the hanging deliveries"
    assert during <= 1.5 * baseline + 1.0
    assert 0 < receiver.peak <= TENANT_SLOTS  # A's deliveries in flight at once, all consumers
