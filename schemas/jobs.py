"""Job statuses and the transitions between them."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

# running -> queued is the recovery path (graceful shutdown, kill switch); running ->
# running is a new attempt claiming a job whose lease expired; failed or cancelled ->
# queued is an explicit retry; succeeded is final. storage/rows.py `moving` enforces this
# table in every status-changing UPDATE.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.QUEUED, JobStatus.RUNNING}
    ),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset(),
}


class ErrorType(StrEnum):
    """The `error.type` a failed job reports."""

    VALIDATION_FAILED = "validation_failed"
    PROVIDER_ERROR = "provider_error"
    DOCUMENT_INVALID = "document_invalid"
    BUDGET_EXCEEDED = "budget_exceeded"
    DOCUMENT_MISMATCH = "document_mismatch"  # the document is not what the schema describes
    CANCELLED = "cancelled"
    INTERNAL = "internal_error"


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    """Whether a job may move from `current` to `new`."""
    return new in TRANSITIONS[current]


def is_terminal(status: JobStatus) -> bool:
    """Whether no worker will touch a job in `status` again (without an explicit retry)."""
    return status in TERMINAL
