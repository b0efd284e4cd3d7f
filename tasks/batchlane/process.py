"""`docqueue batcher`: the batcher's process, with the providers' SDK clients."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import anthropic
import openai
import psycopg
import structlog

from schemas.config import Settings, get_settings
from storage import pooler
from tasks.batchlane.anthropic_batches import AnthropicBatches
from tasks.batchlane.batcher import Batcher
from tasks.batchlane.openai_batches import OpenAIBatches
from tasks.batchlane.providers import BatchProvider
from tasks.celery.app import trace_process
from tasks.observability.heartbeat import Heartbeat

log = structlog.get_logger(__name__)
BATCHER_LOCK = 0x64715F6261746368  # pg advisory lock key: "dq_batch" in ASCII


def providers(settings: Settings) -> dict[str, BatchProvider]:
    """The batch APIs, through the official SDKs (no SDK retry: a create is not idempotent)."""
    timeout = openai.Timeout(300.0, connect=settings.app.celery.sdk_connect_timeout_s)
    return {
        "openai": OpenAIBatches(
            openai.OpenAI(
                api_key=settings.openai_api_key,
                base_url=settings.openai_base_url,
                max_retries=0,
                timeout=timeout,
            )
        ),
        "anthropic": AnthropicBatches(
            anthropic.Anthropic(
                api_key=settings.anthropic_api_key,
                base_url=settings.anthropic_base_url,
                max_retries=0,
                timeout=timeout,
            )
        ),
    }


def _sole_batcher(
    settings: Settings, stop: threading.Event, heartbeat: Heartbeat
) -> psycopg.Connection[Any] | None:
    """Hold the batcher's advisory lock on its own connection (released when it dies).

    Two batchers (a rolling deploy, a second replica) would both create a batch for the same
    `preparing` row before either recorded it: one runs, the others wait here.
    """
    url = pooler.session_url(settings)
    if url is None:
        # Without its session lock two batchers could each create a provider batch for the
        # same rows, and both would be billed: refuse to start rather than risk it.
        log.error(
            "batcher_needs_direct_url",
            reason="DATABASE_URL names a transaction pooler: set DATABASE_LISTEN_URL to a "
            "direct Postgres URL for the batcher's lock",
        )
        raise SystemExit(2)
    conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    waited = False
    while not stop.is_set():
        heartbeat.beat()  # waiting for the lock is alive too
        if conn.execute("SELECT pg_try_advisory_lock(%s)", (BATCHER_LOCK,)).fetchone() == (True,):
            return conn
        if not waited:
            log.info("batcher_waiting_for_lock")  # another batcher runs
            waited = True
        stop.wait(1.0)
    conn.close()
    return None


def run_forever() -> None:
    """Batcher rounds until SIGTERM or SIGINT, as the only batcher."""
    settings = get_settings()
    trace_process("docqueue-batcher")
    stop = threading.Event()

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    heartbeat = Heartbeat(settings.heartbeat_file)
    lock = _sole_batcher(settings, stop, heartbeat)
    if lock is None:
        return
    log.info("batcher_started")
    try:
        Batcher(settings=settings, providers=providers(settings)).run_forever(stop, heartbeat)
    finally:
        lock.close()
    log.info("batcher_stopped")
