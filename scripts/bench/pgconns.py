"""The most Postgres connections a database had at once, sampled from pg_stat_activity.

Used by `make bench` (the overhead run) and by the stock-Postgres end-to-end test: the
connection budget (docs/postgres.md) is a bound, and this is what a run really used.
"""

from __future__ import annotations

import threading
from types import TracebackType

import psycopg

_IN_USE = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"


class PeakConnections:
    """A thread counting the connections to one database every `every_s`; `peak` is the most.

    Its own sampling connection is counted too (it is one of the connections in use).
    """

    def __init__(self, dsn: str, *, every_s: float = 0.2) -> None:
        self._dsn = dsn.replace("postgresql+psycopg://", "postgresql://")
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="pg-connections")
        self.peak = 0
        self.samples = 0

    def _run(self) -> None:
        with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
            while True:
                row = conn.execute(_IN_USE).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)
                self.samples += 1
                if self._stop.wait(self._every_s):
                    return

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
