"""Schema-layer errors: unknown schema names and other problems no retry can fix."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class SchemaError(Exception):
    """Root of every schema error."""

    # A bad schema name or definition fails the same way on every attempt.
    retryable = False


class UnknownSchemaError(SchemaError):
    """A schema name that is not in the registry."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = tuple(sorted(available))
        listed = ", ".join(self.available) or "none"
        super().__init__(f"unknown schema {name!r}; available schemas: {listed}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Celery pickles task exceptions; the default reduce would call __init__ with
        # only the formatted message and fail on the missing `available` argument.
        return (type(self), (self.name, self.available))


class SchemaInvalid(SchemaError):
    """A tenant's JSON Schema outside what docqueue accepts, with the JSON Pointer of the cause."""

    def __init__(self, pointer: str, reason: str) -> None:
        self.pointer = pointer
        self.reason = reason
        super().__init__(f"{pointer or '/'}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.pointer, self.reason))


class ExtractorArchived(SchemaError):
    """An archived extractor: new jobs are refused, old results stay readable."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"extractor {name!r} is archived; new jobs cannot use it")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name,))
