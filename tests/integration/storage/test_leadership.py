"""Scheduler leadership on real Postgres: one holder at a time, freed with its session."""

from __future__ import annotations

import psycopg

from tasks.dispatch.leader import Leadership
from tests.support.waits import wait_until


def _session(pg_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    )


def test_only_one_scheduler_leads_until_its_session_ends(pg_url: str) -> None:
    first, second = Leadership(), Leadership()
    a, b = _session(pg_url), _session(pg_url)
    try:
        assert first.check(a)
        assert not second.check(b)
        assert first.check(a)  # still leading: the lock is not taken twice
        a.close()  # the leader's process dies: its session goes with it
        first.lost()
        # the server frees the lock as the old backend exits, a moment after the close
        wait_until(lambda: second.check(b), timeout=5, what="the standby to lead")
        assert not first.leading
    finally:
        a.close()
        b.close()
