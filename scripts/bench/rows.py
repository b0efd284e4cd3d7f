"""The result table's row, shared by the CLI (`main.py`) and the scenarios that build rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    """One line of the result table."""

    metric: str
    value: str
    target: str = ""
    met: bool | None = None
