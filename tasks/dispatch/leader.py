"""One scheduler leads at a time: a Postgres advisory lock held on its LISTEN connection.

Several schedulers may run (one per machine, or two for failover). Each holds a dedicated
connection that LISTENs for new work; the one that also holds the session-level advisory
lock `LEADER_LOCK` on it dispatches and reconciles, the others wait and try again every
poll. The lock goes with the connection: when the leader dies (or its connection does),
Postgres releases it and a standby takes over at its next try.

Leadership is an economy, not the safety: every dispatch round also takes the
transaction-level lock `storage.picks.DISPATCH_LOCK`, so even two schedulers that both
believe they lead (a leader whose connection dropped but whose pool still works) pick one
after the other, and per-tenant caps hold.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog

log = structlog.get_logger(__name__)
LEADER_LOCK = 0x64715F6C  # "dq_l": the scheduler's leadership (session-level)


class Leadership:
    """Whether this process leads, tried on its dedicated connection."""

    def __init__(self) -> None:
        self.leading = False

    def check(self, conn: psycopg.Connection[Any]) -> bool:
        """Try to take the lock if not held yet; True while this process leads."""
        if not self.leading:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
            self.leading = bool(row and row[0])
            if self.leading:
                log.info("scheduler_leader")
        return self.leading

    def lost(self) -> None:
        """The connection that held the lock is gone: so is the leadership."""
        if self.leading:
            log.warning("scheduler_leadership_lost")
        self.leading = False
