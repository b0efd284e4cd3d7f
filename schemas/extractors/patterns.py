"""Tenant regexes compiled by RE2, a linear-time engine, so no pattern can hang a worker."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

__all__ = ["PatternRefused", "compile_pattern", "search"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused tenant pattern is an answer, not a log line


class PatternRefused(ValueError):
    """A pattern RE2 cannot run in linear time (backreferences, lookaround) or cannot parse."""


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Any:
    """The RE2 program for a JSON Schema `pattern`, or PatternRefused with RE2's reason."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise PatternRefused(
            f"pattern {pattern!r} needs backtracking or is invalid: {reason}"
        ) from None


def search(pattern: str, value: str) -> bool:
    """JSON Schema `pattern` semantics (unanchored search), evaluated by RE2."""
    return compile_pattern(pattern).search(value) is not None
