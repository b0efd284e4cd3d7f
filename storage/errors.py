"""Storage-layer errors; the API maps them to HTTP in api/errors.py."""

from __future__ import annotations

from decimal import Decimal


class StorageError(Exception):
    """Root of every storage error."""

    retryable = False


class AuthError(StorageError):
    """An API key that is missing, unknown, revoked or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"API key {reason}")
        self.reason = reason


class IdempotencyConflict(StorageError):
    """The same Idempotency-Key was used with a different request body."""

    def __init__(self, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used with a different request")
        self.key = key


class NotFound(StorageError):
    """The object does not exist for this tenant."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} not found")
        self.what = what


class Erased(NotFound):
    """The object was erased on request (DELETE), or its erasure is under way."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(what, ident)
        self.args = (f"{what} {ident} was erased on request",)


class InvalidState(StorageError):
    """The object is not in a state that allows the operation."""


class BudgetExhausted(StorageError):
    """A reservation would take a tenant's spend past its budget for a period."""

    def __init__(
        self,
        *,
        period: str,
        budget: Decimal,
        spent: Decimal,
        reserved: Decimal,
        requested: Decimal,
    ) -> None:
        super().__init__(
            f"budget for {period} exhausted: budget {budget} USD, spent {spent}, "
            f"reserved {reserved}, requested {requested}"
        )
        self.period = period
        self.budget = budget
        self.spent = spent
        self.reserved = reserved
        self.requested = requested
