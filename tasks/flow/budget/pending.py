"""Settles that failed even after their retries, kept and retried by the worker itself.

A settle meets a refused connection while Postgres restarts or runs out of connection
slots; after `storage.retrying`'s backoff gives up, the reservation would stay open until
the reconciler's `release_stale` (after the hard time limit, 660 s). Instead the worker
keeps it here and a background thread settles it as soon as Postgres answers again.
Settling is idempotent (settle-once), so a late settle of a reservation the reconciler
already closed changes nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import structlog

log = structlog.get_logger("tasks.flow.budget")

RETRY_EVERY_S = 2.0
# The reconciler settles anything older than the hard time limit from the ledger.
DEFAULT_MAX_AGE_S = 660.0


@dataclass(frozen=True)
class PendingSettle:
    """One reservation to settle, and how: `write()` settles it (raises if it cannot)."""

    reservation_id: uuid.UUID
    actual_usd: Decimal
    write: Callable[[], None]
    queued_at: float


class PendingSettles:
    """A small queue of failed settles with a lazily started thread that retries them."""

    def __init__(
        self,
        *,
        every_s: float = RETRY_EVERY_S,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every_s = every_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[uuid.UUID, PendingSettle] = {}
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def add(
        self,
        *,
        reservation_id: uuid.UUID,
        actual_usd: Decimal,
        write: Callable[[], None],
        start: bool = True,
    ) -> None:
        """Keep a settle for later (and make sure the retrying thread runs)."""
        item = PendingSettle(reservation_id, actual_usd, write, self._clock())
        with self._lock:
            self._items[reservation_id] = item
            if start and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._run, daemon=True, name="budget-pending-settles"
                )
                self._thread.start()

    def drain_once(self, *, stop_at_first_failure: bool = False) -> int:
        """Try every kept settle once; returns how many succeeded (failures stay kept)."""
        with self._lock:
            items = list(self._items.values())
        settled = 0
        for item in items:
            if self._clock() - item.queued_at > self.max_age_s:
                self._forget(item, "budget_settle_abandoned")  # the reconciler has it now
                continue
            try:
                item.write()
            except Exception as exc:  # noqa: BLE001 - kept for the next round
                log.info("budget_settle_still_failing", error=type(exc).__name__)
                if stop_at_first_failure:
                    break
                continue
            self._forget(item, "budget_settle_recovered")
            settled += 1
        return settled

    def _forget(self, item: PendingSettle, event: str) -> None:
        with self._lock:
            self._items.pop(item.reservation_id, None)
        log.warning(event, reservation_id=str(item.reservation_id), actual_usd=str(item.actual_usd))

    def _run(self) -> None:
        while True:
            time.sleep(self.every_s)
            self.drain_once()
            with self._lock:
                if not self._items:
                    self._thread = None
                    return


PENDING = PendingSettles()


@atexit.register
def _last_try() -> None:
    """At exit, one last attempt (stopping at the first failure: Postgres is still down)."""
    if len(PENDING):
        # At exit the log stream may already be closed; the reconciler settles what is left.
        with contextlib.suppress(Exception):
            PENDING.drain_once(stop_at_first_failure=True)
