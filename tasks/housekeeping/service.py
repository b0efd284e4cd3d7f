"""One sweep: finish requested erasures, then age out each tenant's data past retention.

Every step is a transaction of its own (a chunk of jobs), so a sweep never holds locks
for long and a crash loses at most the chunk in progress, which the next sweep redoes.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from schemas.config import Settings
from storage import erasure, retention
from storage.db import session_scope

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Swept:
    """What one sweep deleted."""

    erased_batches: int = 0
    expired_jobs: int = 0


def erase_pending(*, settings: Settings) -> int:
    """Advance every pending erasure; return how many completed."""
    cfg = settings.app.retention
    with session_scope() as session:
        batch_ids = erasure.pending(session=session)
    completed = 0
    for batch_id in batch_ids:
        for _ in range(cfg.chunks_per_pass):
            with session_scope() as session:
                step = erasure.erase_step(session=session, batch_id=batch_id, chunk=cfg.chunk)
            if step.done:
                completed += 1
                log.info("batch_erased", batch_id=str(batch_id))
                break
            if step.busy:
                break  # jobs still in flight (or another sweep has it): the next sweep
    return completed


def expire_old(*, settings: Settings, now: dt.datetime | None = None) -> int:
    """Delete each tenant's finished jobs past its retention; return how many went."""
    cfg = settings.app.retention
    now = now or dt.datetime.now(dt.UTC)
    with session_scope() as session:
        tenants = retention.tenants_with_retention(session=session, default_days=cfg.default_days)
    deleted = 0
    for tenant_id, days in tenants:
        cut = now - dt.timedelta(days=days)
        for _ in range(cfg.chunks_per_pass):
            with session_scope() as session:
                gone = retention.expire_chunk(
                    session=session, tenant_id=tenant_id, older_than=cut, chunk=cfg.chunk
                )
            deleted += gone.jobs
            if gone.jobs:
                log.info(
                    "retention_expired",
                    tenant_id=str(tenant_id),
                    jobs=gone.jobs,
                    documents=gone.documents,
                    batches=gone.batches,
                )
            if gone.jobs < cfg.chunk:
                break
    return deleted


def sweep(*, settings: Settings, now: dt.datetime | None = None) -> Swept:
    """Erasures first (a person asked), then retention."""
    return Swept(
        erased_batches=erase_pending(settings=settings),
        expired_jobs=expire_old(settings=settings, now=now),
    )


def run_in_background(
    *, settings: Settings, leading: Callable[[], bool], stop: threading.Event
) -> threading.Thread:
    """Sweep every `[retention] every_s` while `leading()`, on a thread of its own.

    Apart from the dispatch loop: a long erasure or a retention backlog never delays a pick.
    """

    def loop() -> None:
        while not stop.wait(settings.app.retention.every_s):
            if not leading():
                continue
            try:
                sweep(settings=settings)
            except Exception as exc:  # noqa: BLE001 - Postgres away: the next sweep retries
                log.warning("housekeeping_failed", error=str(exc)[:200])

    thread = threading.Thread(target=loop, name="housekeeping", daemon=True)
    thread.start()
    return thread
