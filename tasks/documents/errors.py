"""The one error `tasks.documents` raises: the upload cannot be turned into text."""

from __future__ import annotations

from typing import Any

from schemas.jobs import ErrorType
from tasks.errors import TaskError

__all__ = ["DocumentInvalid"]


class DocumentInvalid(TaskError):
    """The document is unusable; retrying cannot help, so it is never retried."""

    error_type = ErrorType.DOCUMENT_INVALID

    def __init__(self, reason: str, message: str) -> None:
        """Store a short machine-readable reason code and a human-readable message."""
        super().__init__(message, reason=reason)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Both travel, so the error survives pickling (Celery result backends).
        return (type(self), (self.reason, self.message))

    def __str__(self) -> str:
        """Return the human-readable message alone (the reason is for machines)."""
        return self.message

    def __repr__(self) -> str:
        """Show both the reason code and the message."""
        return f"DocumentInvalid({self.reason!r}, {self.message!r})"
