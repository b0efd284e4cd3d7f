"""The console's tunables: the `[console]` table of the TOML."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ConsoleConfig(BaseModel):
    """How long a sign-in lasts, how long a one-time sign-in link waits, how often pages poll."""

    session_ttl_s: int = Field(default=8 * 3600, gt=0)  # ends sooner if its key does
    link_ttl_s: int = Field(default=900, gt=0)  # `docqueue console-link`, printed by make demo
    poll_s: float = Field(default=2.0, gt=0)  # live pages refresh their counts this often
