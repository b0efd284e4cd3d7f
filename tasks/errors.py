"""Worker-side errors. Each says whether it is retryable and carries its context."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.jobs import ErrorType


@dataclass
class Usage:
    """Tokens and cost accumulated before an error."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


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
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.last_status = last_status
        self.usage = usage or Usage()


class ProviderError(TaskError):
    """Every model in the chain failed, or a fatal provider answer ended the job."""

    error_type = ErrorType.PROVIDER_ERROR


class CircuitOpen(ProviderError):
    """The model's circuit breaker is open: no call (or no further retry) went out."""


class ValidationFailed(TaskError):
    """The model never produced an answer that validates, after all re-asks."""

    error_type = ErrorType.VALIDATION_FAILED


class DocumentInvalidError(TaskError):
    """The stored document cannot be used."""

    error_type = ErrorType.DOCUMENT_INVALID


class BudgetExceeded(TaskError):
    """The tenant's budget cannot cover the worst-case cost of the next call."""

    error_type = ErrorType.BUDGET_EXCEEDED


class Paused(TaskError):
    """The kill switch is on: hand the job back and wait, never fail it."""

    retryable = True


class SlotTimeout(TaskError):
    """No concurrency slot became free in time; the job goes back to the queue."""

    retryable = True


@dataclass
class CallFailure:
    """How one transport attempt failed, as the retry classifier saw it."""

    retryable: bool
    kind: str
    status: int | None = None
    retry_after_s: float | None = None
    detail: str = field(default="")
