"""A tenant's spend guard: reservations on Postgres, or in memory for tests."""

from tasks.flow.budget.memory_backend import MemoryBudget, MemoryHold, Spend
from tasks.flow.budget.pending import PENDING, PendingSettles
from tasks.flow.budget.postgres_backend import PostgresBudget, PostgresHold, SessionFactory

__all__ = [
    "PENDING",
    "MemoryBudget",
    "MemoryHold",
    "PendingSettles",
    "PostgresBudget",
    "PostgresHold",
    "SessionFactory",
    "Spend",
]
