"""API keys: stored hashed, and every way a key can be bad is told apart."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from storage.db import session_scope
from storage.errors import AuthError
from storage.models import ApiKey
from storage.tenants import authenticate, create_tenant, hash_key, issue_key, revoke_key


def _tenant_with_key(pg_url: str, **key_kwargs: dt.datetime) -> str:
    with session_scope(pg_url) as session:
        tenant = create_tenant(
            session=session,
            name=f"auth-{dt.datetime.now().timestamp()}",
            monthly_budget_usd=Decimal(10),
            concurrency=4,
        )
        return issue_key(session=session, tenant_id=tenant.id, **key_kwargs)


def test_only_the_sha256_of_a_key_is_stored(pg_url: str) -> None:
    key = _tenant_with_key(pg_url)
    with session_scope(pg_url) as session:
        stored = session.scalars(select(ApiKey.key_hash)).all()
    assert hash_key(key) in stored
    assert key not in stored


def test_a_valid_key_authenticates_its_tenant(pg_url: str) -> None:
    key = _tenant_with_key(pg_url)
    with session_scope(pg_url) as session:
        assert authenticate(session=session, api_key=key).name.startswith("auth-")


def test_an_expired_key_is_refused_as_expired(pg_url: str) -> None:
    key = _tenant_with_key(pg_url, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with session_scope(pg_url) as session, pytest.raises(AuthError, match="expired"):
        authenticate(session=session, api_key=key)


def test_a_revoked_key_is_refused_as_revoked(pg_url: str) -> None:
    key = _tenant_with_key(pg_url)
    prefix = key.split("_")[1]
    with session_scope(pg_url) as session:
        assert revoke_key(session=session, prefix=prefix) == 1
    with session_scope(pg_url) as session, pytest.raises(AuthError, match="revoked"):
        authenticate(session=session, api_key=key)


def test_an_unknown_key_is_refused(pg_url: str) -> None:
    with session_scope(pg_url) as session, pytest.raises(AuthError, match="not valid"):
        authenticate(session=session, api_key="dq_00000000_nope")
