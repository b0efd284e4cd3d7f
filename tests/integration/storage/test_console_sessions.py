"""Console sign-ins on real Postgres: sessions live as long as their key, links work once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from storage.console_models import ConsoleSession
from storage.console_sessions import (
    digest,
    end_session,
    open_link,
    open_session,
    redeem_link,
    resolve,
)
from storage.db import session_scope
from storage.errors import AuthError
from storage.tenants import revoke_key
from tests.support.tenants import make_tenant

HOUR = dt.timedelta(hours=1)


def _prefix(api_key: str) -> str:
    return api_key.removeprefix("dq_").split("_", 1)[0]


def _expire(session: Session, token: str, *, ago: str) -> None:
    """Move a session's expiry into the past by `ago` (a Postgres interval)."""
    session.execute(
        text("UPDATE console_sessions SET expires_at = now() - CAST(:ago AS interval)"
             " WHERE token_hash = :h"),
        {"ago": ago, "h": digest(token)},
    )  # fmt: skip


def test_a_session_resolves_to_its_tenant_until_signed_out(pg_url: str) -> None:
    tenant = make_tenant("sess", url=pg_url)
    with session_scope(pg_url) as session:
        opened = open_session(session=session, api_key=tenant.api_key, ttl=HOUR)
    with session_scope(pg_url) as session:
        signed = resolve(session=session, token=opened.token)
        assert signed is not None
        assert str(signed.tenant.id) == tenant.id
        assert signed.csrf_ok(opened.csrf)
        assert not signed.csrf_ok("guess")
        stored = session.scalars(select(ConsoleSession.token_hash)).all()
        assert opened.token not in stored  # only the hash is kept
        assert digest(opened.token) in stored
        end_session(session=session, token=opened.token)
    with session_scope(pg_url) as session:
        assert resolve(session=session, token=opened.token) is None


def test_revoking_the_key_ends_the_session(pg_url: str) -> None:
    tenant = make_tenant("sess", url=pg_url)
    with session_scope(pg_url) as session:
        opened = open_session(session=session, api_key=tenant.api_key, ttl=HOUR)
        revoke_key(session=session, prefix=_prefix(tenant.api_key))
    with session_scope(pg_url) as session:
        assert resolve(session=session, token=opened.token) is None
        with pytest.raises(AuthError, match="revoked"):
            open_session(session=session, api_key=tenant.api_key, ttl=HOUR)


def test_a_session_past_its_expiry_opens_nothing(pg_url: str) -> None:
    tenant = make_tenant("sess", url=pg_url)
    with session_scope(pg_url) as session:
        opened = open_session(session=session, api_key=tenant.api_key, ttl=HOUR)
        _expire(session, opened.token, ago="1 second")
    with session_scope(pg_url) as session:
        assert resolve(session=session, token=opened.token) is None


def test_a_link_signs_in_once_and_is_no_session_itself(pg_url: str) -> None:
    tenant = make_tenant("sess", url=pg_url)
    with session_scope(pg_url) as session:
        link = open_link(session=session, key_prefix=_prefix(tenant.api_key), ttl=HOUR)
    with session_scope(pg_url) as session:
        assert resolve(session=session, token=link.token) is None  # not a cookie
        opened = redeem_link(session=session, token=link.token, ttl=HOUR)
    with session_scope(pg_url) as session:
        assert resolve(session=session, token=opened.token) is not None
        with pytest.raises(AuthError, match="used up"):
            redeem_link(session=session, token=link.token, ttl=HOUR)


def test_signing_in_clears_sessions_that_ended_over_a_day_ago(pg_url: str) -> None:
    tenant = make_tenant("sess", url=pg_url)
    with session_scope(pg_url) as session:
        old = open_session(session=session, api_key=tenant.api_key, ttl=HOUR)
        _expire(session, old.token, ago="2 days")
    with session_scope(pg_url) as session:
        open_session(session=session, api_key=tenant.api_key, ttl=HOUR)
        left = session.scalar(
            select(func.count())
            .select_from(ConsoleSession)
            .where(ConsoleSession.token_hash == digest(old.token))
        )
    assert left == 0
