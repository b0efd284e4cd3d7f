"""The batcher's own work per item, timed without the provider's processing delay.

`scripts/bench/lane.py` stops the stack's batcher and submits N invoices on the batch lane:
the real workers capture and park their requests. This module then does what one batcher
round does with them, through the batcher's own functions, timing two parts:
- pack: `storage.lane_batches.pack` (one transaction), reading the packed bodies back
  (`batch_requests`, as `Batcher.submit` does) and `providers.encode_jsonl` of them;
- ingest: `OpenAIBatches.results` (download of the output file from the local simulator
  and `parse_line` per line) and `ingest.ingest`, `INGEST_CHUNK` results per transaction,
  as `Batcher._ingest` does.
The upload, the create and the wait for the batch to end are not timed: they are the
provider's. Afterwards lane.py starts the batcher again and the woken jobs must all succeed
(their workers replay the ingested answers), which shows the timed ingest was real.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import openai
import psycopg

from schemas.config import load_config
from schemas.lanes import BatchLaneConfig
from scripts.bench.env import BENCH_ENV, BenchStack
from storage import lane_batches
from storage.db import session_scope
from tasks.batchlane.ingest import ingest, switch_rule
from tasks.batchlane.openai_batches import OpenAIBatches
from tasks.batchlane.providers import BatchRequest, encode_jsonl

PROVIDER, MODEL = "openai", "gpt-5.6-luna"  # tier low's first model


@dataclass
class BatcherSpeed:
    """Seconds the batcher's own steps took for `n` items, and how their jobs ended."""

    n: int
    pack_s: float
    jsonl_bytes: int
    ingest_s: float
    kinds: dict[str, int]
    succeeded: int = 0  # set by the caller once the woken jobs ended

    @property
    def per_s(self) -> float:
        """Items per second through pack, encode, parse and ingest together."""
        return self.n / (self.pack_s + self.ingest_s)

    @property
    def pack_per_s(self) -> float:
        """Items per second packed and encoded."""
        return self.n / self.pack_s

    @property
    def ingest_per_s(self) -> float:
        """Result lines per second downloaded, parsed and ingested."""
        return self.n / self.ingest_s


def parked(stack: BenchStack, tenant_id: str) -> int:
    """The tenant's batch-lane requests waiting to be packed."""
    with psycopg.connect(stack.pg_dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM lane_items WHERE tenant_id = %s AND state = 'parked'",
            (tenant_id,),
        ).fetchone()
    return int(row[0]) if row else 0


def wait_parked(stack: BenchStack, tenant_id: str, *, n: int, timeout: float) -> None:
    """Wait until `n` of the tenant's requests are parked."""
    deadline = time.monotonic() + timeout
    while (count := parked(stack, tenant_id)) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count}/{n} batch-lane requests parked after {timeout:.0f}s")
        time.sleep(0.1)


def _pack(
    stack: BenchStack, lane: BatchLaneConfig, *, n: int
) -> tuple[uuid.UUID, list[BatchRequest]]:
    """Pack every parked item into one provider batch, as `Batcher.pack` and `submit` do."""
    with session_scope(stack.db_url) as session:
        batch_id = lane_batches.pack(
            session=session,
            provider=PROVIDER,
            model=MODEL,
            max_requests=lane.openai_max_requests,
            max_bytes=lane.openai_max_bytes,
            flush_size=1,  # due now: the timing is of the work, not of the flush rule
            max_wait=dt.timedelta(0),
        )
    if batch_id is None:
        raise RuntimeError("nothing was packed")
    with session_scope(stack.db_url) as session:
        pairs = lane_batches.batch_requests(session=session, batch_id=batch_id)
    requests = [BatchRequest(c, body) for c, body in pairs]
    if len(requests) != n:
        raise RuntimeError(f"packed {len(requests)} of {n} parked items")
    return batch_id, requests


def measure(stack: BenchStack, *, n: int) -> BatcherSpeed:
    """Time the batcher's pack and ingest of the `n` parked requests (batcher stopped)."""
    app = load_config(Path(stack.env["DOCQUEUE_CONFIG"]))  # the batcher has its settings
    began = time.perf_counter()
    batch_id, requests = _pack(stack, app.batch_lane, n=n)
    data = encode_jsonl(requests)
    pack_s = time.perf_counter() - began

    client = openai.OpenAI(
        api_key=BENCH_ENV["OPENAI_API_KEY"], base_url=f"{stack.sim_url}/v1", max_retries=0
    )
    provider = OpenAIBatches(client)
    sent = provider.submit(submission_id=str(batch_id), requests=requests)
    with session_scope(stack.db_url) as session:
        lane_batches.mark_submitted(
            session=session,
            batch_id=batch_id,
            provider_batch_id=sent.provider_batch_id,
            input_file_id=sent.input_file_id,
            status=sent.status,
            expires_at=sent.expires_at,
        )
    while not (polled := provider.poll(provider_batch_id=sent.provider_batch_id)).ended:
        time.sleep(0.05)

    began = time.perf_counter()
    switch = switch_rule(app, dt.datetime.now(dt.UTC))
    kinds = ingest(
        sessions=functools.partial(session_scope, stack.db_url),
        config=app,
        provider=PROVIDER,
        results=provider.results(provider_batch_id=sent.provider_batch_id),
        switch=switch,
    )
    ingest_s = time.perf_counter() - began

    with session_scope(stack.db_url) as session:
        lane_batches.record_status(
            session=session,
            batch_id=batch_id,
            status=polled.status,
            counts=polled.counts,
            error=polled.error,
            done=True,
        )
    return BatcherSpeed(n, pack_s, len(data), ingest_s, kinds)
