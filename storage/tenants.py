"""Tenants and their hashed API keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.errors import AuthError, NotFound
from storage.models import ApiKey, Tenant

KEY_PREFIX = "dq_"


def hash_key(api_key: str) -> str:
    """The sha256 hex digest stored instead of the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_tenant(
    *,
    session: Session,
    name: str,
    monthly_budget_usd: Decimal,
    concurrency: int,
    daily_budget_usd: Decimal | None = None,
) -> Tenant:
    """Insert a tenant with a fresh webhook secret."""
    tenant = Tenant(
        name=name,
        monthly_budget_usd=monthly_budget_usd,
        daily_budget_usd=daily_budget_usd,
        concurrency=concurrency,
        webhook_secret=secrets.token_hex(32),
    )
    session.add(tenant)
    session.flush()
    return tenant


def issue_key(
    *, session: Session, tenant_id: uuid.UUID, expires_at: dt.datetime | None = None
) -> str:
    """Create an API key for the tenant and return it; only its hash is stored."""
    if session.get(Tenant, tenant_id) is None:
        raise NotFound("tenant", tenant_id)
    prefix = secrets.token_hex(4)
    api_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(
            tenant_id=tenant_id, prefix=prefix, key_hash=hash_key(api_key), expires_at=expires_at
        )
    )
    session.flush()
    return api_key


def revoke_key(*, session: Session, prefix: str) -> int:
    """Revoke every key with this prefix; returns how many."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=dt.datetime.now(dt.UTC))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def authenticate(*, session: Session, api_key: str) -> Tenant:
    """The tenant that owns `api_key`, or AuthError saying why not."""
    row = session.execute(
        select(ApiKey, Tenant)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_hash == hash_key(api_key))
    ).first()
    if row is None:
        raise AuthError("is not valid")
    key, tenant = row
    checked_key(key)
    return tenant


def checked_key(key: ApiKey | None) -> ApiKey:
    """`key` if it can be used now, else AuthError saying why not (unknown, revoked, expired)."""
    if key is None:
        raise AuthError("is not valid")
    if key.revoked_at is not None:
        raise AuthError("has been revoked")
    if key.expires_at is not None and key.expires_at <= dt.datetime.now(dt.UTC):
        raise AuthError("has expired")
    return key


def get_tenant(*, session: Session, tenant_id: uuid.UUID) -> Tenant:
    """Load a tenant by id."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant", tenant_id)
    return tenant


def set_budget(
    *,
    session: Session,
    tenant_id: uuid.UUID,
    monthly_budget_usd: Decimal,
    daily_budget_usd: Decimal | None,
) -> None:
    """Change a tenant's budget."""
    session.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(monthly_budget_usd=monthly_budget_usd, daily_budget_usd=daily_budget_usd)
    )
