"""The worker's error families, under one root (the layout of dramatiq's `errors.py`).

    TaskError                      root: `retryable`, the job's `error_type`, and context
    ├── ProviderError              every model failed, or a fatal provider answer
    │   └── CircuitOpen            the breaker refused the call
    ├── ValidationFailed           no answer validated after all re-asks
    ├── BudgetExceeded             the tenant's budget cannot cover the worst case
    ├── DocumentInvalid            the upload cannot become text (tasks.documents.errors)
    ├── UrlRefused                 a webhook URL may not be called (tasks.webhooks.netguard)
    │   └── Unresolvable           its host did not resolve (retryable)
    └── Deferred                   not the job's fault: hand it back, never fail it
        ├── Paused                 the kill switch is on, or the worker drains
        ├── SlotTimeout            no concurrency slot or bucket room in time
        └── LedgerUnavailable      a call's ledger row could not be written: not sent

HTTP mapping of the errors the API can meet lives in api/errors.py alone.
"""

from __future__ import annotations

from typing import Any

from schemas.jobs import ErrorType


class TaskError(Exception):
    """Root of every worker error: `error_type` is what the failed job reports."""

    retryable = False
    error_type: ErrorType = ErrorType.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 0,
        last_status: int | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.last_status = last_status
        self.context = context

    def __reduce__(self) -> tuple[Any, ...]:
        # Celery pickles task errors; keep the keyword-only context across the trip.
        return (_rebuild, (type(self), self.message, self.attempts, self.last_status, self.context))


def _rebuild(
    cls: type[TaskError],
    message: str,
    attempts: int,
    last_status: int | None,
    context: dict[str, Any],
) -> TaskError:
    err = cls.__new__(cls)
    TaskError.__init__(err, message, attempts=attempts, last_status=last_status, **context)
    return err


class ProviderError(TaskError):
    """Every model in the chain failed, or a fatal provider answer ended the job."""

    error_type = ErrorType.PROVIDER_ERROR


class CircuitOpen(ProviderError):
    """The model's circuit breaker is open: no call (or no further retry) went out."""


class ValidationFailed(TaskError):
    """The model never produced an answer that validates, after all re-asks."""

    error_type = ErrorType.VALIDATION_FAILED


class BudgetExceeded(TaskError):
    """The tenant's budget cannot cover the worst-case cost of the next call."""

    error_type = ErrorType.BUDGET_EXCEEDED


class Deferred(TaskError):
    """The job cannot run now for reasons outside it: it goes back to the queue."""

    retryable = True


class Paused(Deferred):
    """The kill switch is on: hand the job back and wait, never fail it."""


class SlotTimeout(Deferred):
    """No concurrency slot became free in time; the job goes back to the queue."""


class LedgerUnavailable(Deferred):
    """A call's ledger row could not be opened, so the call was never sent: hand back."""
