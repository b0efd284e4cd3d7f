"""A hand-advanced clock (seconds) for the in-memory backends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ManualClock:
    """Time stands still until a test moves it."""

    now: float = 1000.0

    def __call__(self) -> float:
        """The current time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds
