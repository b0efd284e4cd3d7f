"""The reconciler's dead-worker decision, on in-memory observations (no Redis, no Postgres)."""

from __future__ import annotations

import datetime as dt
import uuid

from storage.dispatch import Holding
from tasks.dispatch.liveness import WorkerWatch

TTL = 6.0
LEASE = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _held(worker: str, *, lease: dt.datetime = LEASE, job: uuid.UUID | None = None) -> Holding:
    return Holding(job_id=job or uuid.uuid4(), worker=worker, attempt=1, lease_expires_at=lease)


def _watch() -> WorkerWatch:
    watch = WorkerWatch(ttl_s=TTL)
    assert watch.note_epoch("e1", created=False) is False  # the first epoch is a baseline
    return watch


def test_a_worker_whose_key_stays_missing_for_a_whole_ttl_is_dead() -> None:
    watch = _watch()
    jobs = [_held("w1"), _held("w1"), _held("w2")]
    assert watch.dead(jobs, alive={"w1", "w2"}, now=0.0) == []
    assert watch.dead(jobs, alive={"w2"}, now=2.0) == []  # missing since 2.0
    assert watch.dead(jobs, alive={"w2"}, now=6.0) == []
    assert watch.dead(jobs, alive={"w2"}, now=8.0) == jobs[:2]


def test_a_worker_missing_for_less_than_the_ttl_is_not_dead_and_its_key_coming_back_resets_it() -> (
    None
):
    watch = _watch()
    jobs = [_held("w1")]
    watch.dead(jobs, alive={"w1"}, now=0.0)
    assert watch.dead(jobs, alive=set(), now=2.0) == []
    assert watch.dead(jobs, alive={"w1"}, now=7.0) == []  # it beat again
    assert watch.dead(jobs, alive=set(), now=9.0) == []
    assert watch.dead(jobs, alive=set(), now=14.0) == []  # missing only since 9.0
    assert watch.dead(jobs, alive=set(), now=15.0) == jobs


def test_a_worker_never_seen_alive_is_left_to_its_lease_expiring() -> None:
    watch = _watch()
    jobs = [_held("old-release-worker")]  # it never writes a liveness key
    for now in (0.0, 10.0, 100.0):
        assert watch.dead(jobs, alive=set(), now=now) == []


def test_after_redis_lost_its_data_live_workers_get_a_whole_ttl_to_write_their_keys_again() -> None:
    watch = _watch()
    jobs = [_held("w1")]
    watch.dead(jobs, alive={"w1"}, now=0.0)
    assert watch.dead(jobs, alive=set(), now=4.0) == []  # key gone: Redis restarted at 3.5
    assert watch.note_epoch("e2", created=True) is True  # the reconciler wrote a new epoch
    assert watch.dead(jobs, alive=set(), now=9.0) == []  # 5 s after the loss: still a grace
    assert watch.dead(jobs, alive={"w1"}, now=10.0) == []  # it beat again: alive
    assert watch.dead(jobs, alive={"w1"}, now=30.0) == []


def test_a_worker_dead_across_a_redis_loss_is_found_a_ttl_after_the_loss() -> None:
    watch = _watch()
    jobs = [_held("w1")]
    watch.dead(jobs, alive={"w1"}, now=0.0)
    assert watch.dead(jobs, alive=set(), now=5.0) == []
    watch.note_epoch("e2", created=False)  # another scheduler saw it first: a changed value
    assert watch.dead(jobs, alive=set(), now=6.0) == []
    assert watch.dead(jobs, alive=set(), now=11.0) == []
    assert watch.dead(jobs, alive=set(), now=12.0) == jobs


def test_the_same_epoch_again_is_no_data_loss() -> None:
    watch = _watch()
    assert watch.note_epoch("e1", created=False) is False
    assert watch.note_epoch("e9", created=False) is True


def test_a_worker_renewing_its_lease_is_alive_though_its_key_is_missing() -> None:
    watch = _watch()
    job = uuid.uuid4()
    watch.dead([_held("w1", job=job)], alive={"w1"}, now=0.0)
    assert watch.dead([_held("w1", job=job)], alive=set(), now=2.0) == []
    later = LEASE + dt.timedelta(seconds=30)
    assert watch.dead([_held("w1", job=job, lease=later)], alive=set(), now=7.0) == []
    assert watch.dead([_held("w1", job=job, lease=later)], alive=set(), now=12.0) == []
    stuck = [_held("w1", job=job, lease=later)]
    assert watch.dead(stuck, alive=set(), now=13.0) == stuck  # not renewed for a TTL since


def test_an_unreadable_redis_restarts_the_absence_clocks() -> None:
    watch = _watch()
    jobs = [_held("w1")]
    watch.dead(jobs, alive={"w1"}, now=0.0)
    watch.dead(jobs, alive=set(), now=2.0)
    watch.restart_clocks()  # Redis did not answer: workers could not beat either
    assert watch.dead(jobs, alive=set(), now=9.0) == []  # missing only since 9.0
    assert watch.dead(jobs, alive=set(), now=15.0) == jobs


def test_a_missing_worker_that_holds_nothing_any_more_is_not_reclaimed_later() -> None:
    watch = _watch()
    first = [_held("w1")]
    watch.dead(first, alive={"w1"}, now=0.0)
    watch.dead(first, alive=set(), now=2.0)
    assert watch.dead([], alive=set(), now=4.0) == []  # its job finished (it exited cleanly)
    assert watch.missing_since == {}
    again = [_held("w1")]  # a later claim under the same name (pid reuse)
    assert watch.dead(again, alive=set(), now=9.0) == []  # its absence starts anew at 9.0
    assert watch.dead(again, alive=set(), now=15.0) == again
