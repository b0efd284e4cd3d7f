"""Tenants the tests act as, created through the storage layer."""

from __future__ import annotations

import uuid

from scripts.devstack.builder import Tenant, new_tenant

__all__ = ["Tenant", "make_tenant"]


def make_tenant(
    name: str, *, budget: float = 1000.0, concurrency: int = 64, url: str | None = None
) -> Tenant:
    """Create a tenant through the storage layer (the CLI calls the same functions)."""
    return new_tenant(
        url, name=f"{name}-{uuid.uuid4().hex[:6]}", budget_usd=budget, concurrency=concurrency
    )
