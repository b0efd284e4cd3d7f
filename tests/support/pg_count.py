"""Count the SQL statements code sends to Postgres, to hold it to a budget (issue 14).

    with counting(pg_url) as sent:
        PostgresJobStore().claim(job_id=job_id, worker="w:1", lease_s=60)
    assert sent.count <= 1, sent.statements

It listens on the engine storage.db hands out for the URL (its autocommit twin shares the
listeners), so every session_scope on that URL is counted. What it counts is each
statement SQLAlchemy sends through a cursor; psycopg's own BEGIN and COMMIT and the pool's
idle ping are not statements of the code under test and are not seen.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from storage.db import get_engine


@dataclass
class Sent:
    """The statements sent while counting, in order."""

    statements: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def count(self) -> int:
        """How many statements were sent."""
        return len(self.statements)

    def add(self, statement: str) -> None:
        """Record one statement (worker threads, such as a heartbeat, may send too)."""
        with self._lock:
            self.statements.append(statement)


@contextmanager
def counting(url: str) -> Iterator[Sent]:
    """Record every statement sent on `url`'s engine inside the block."""
    engine = get_engine(url)
    sent = Sent()

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.add(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)
