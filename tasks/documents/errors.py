"""The one error `tasks.documents.parse` raises: the upload cannot be turned into text."""

from __future__ import annotations

__all__ = ["DocumentInvalid"]


class DocumentInvalid(Exception):
    """The document is unusable; retrying cannot help, so it is never retried."""

    # Class attribute so callers can treat every error uniformly via `err.retryable`.
    retryable = False

    def __init__(self, reason: str, message: str) -> None:
        """Store a short machine-readable reason code and a human-readable message."""
        # Both go to args so the error survives pickling (Celery result backends).
        super().__init__(reason, message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        """Return the human-readable message alone (the reason is for machines)."""
        return self.message

    def __repr__(self) -> str:
        """Show both the reason code and the message."""
        return f"DocumentInvalid({self.reason!r}, {self.message!r})"
