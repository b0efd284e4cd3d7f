"""Job state transitions."""

from __future__ import annotations

import pytest

from schemas.jobs import JobStatus, can_transition, is_terminal

S = JobStatus


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.QUEUED, S.RUNNING),
        (S.RUNNING, S.SUCCEEDED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.QUEUED),
        (S.FAILED, S.QUEUED),
        (S.QUEUED, S.CANCELLED),
    ],
)
def test_allowed_transitions(old: JobStatus, new: JobStatus) -> None:
    assert can_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (S.SUCCEEDED, S.QUEUED),
        (S.SUCCEEDED, S.RUNNING),
        (S.QUEUED, S.SUCCEEDED),
        (S.CANCELLED, S.RUNNING),
        (S.FAILED, S.SUCCEEDED),
    ],
)
def test_forbidden_transitions(old: JobStatus, new: JobStatus) -> None:
    assert not can_transition(old, new)


def test_only_succeeded_failed_and_cancelled_are_terminal() -> None:
    assert {s for s in S if is_terminal(s)} == {S.SUCCEEDED, S.FAILED, S.CANCELLED}


def test_a_status_change_the_table_forbids_is_refused_before_it_reaches_sql() -> None:
    from storage.rows import moving

    with pytest.raises(ValueError, match="illegal job transition"):
        moving(from_=(S.SUCCEEDED,), to=S.QUEUED)
    assert moving(from_=(S.RUNNING,), to=S.SUCCEEDED) is not None
