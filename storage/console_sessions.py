"""Console sign-ins: open a session with an API key or a one-time link, resolve, end it.

The browser holds two random tokens: the session cookie and the CSRF token its forms
carry. Postgres keeps only their sha256, like API keys, so a leaked table opens nothing.
A session lives until it expires, is signed out, or its key is revoked or expires: the key
is checked on every request, so revoking it ends its sessions at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from storage.console_models import ConsoleSession
from storage.errors import AuthError
from storage.models import ApiKey, Tenant
from storage.tenants import checked_key, hash_key

PURGE_AFTER = dt.timedelta(days=1)


@dataclass(frozen=True)
class Opened:
    """A new session (or link): the tokens to hand out, once, and when it ends."""

    token: str
    csrf: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class Signed:
    """A live session: its tenant, the prefix of the key it was opened with, its CSRF hash."""

    tenant: Tenant
    key_prefix: str
    key_id: uuid.UUID
    csrf_hash: str

    def csrf_ok(self, token: str | None) -> bool:
        """Whether a form's token is this session's (compared in constant time)."""
        return token is not None and hmac.compare_digest(digest(token), self.csrf_hash)


def digest(token: str) -> str:
    """The sha256 hex digest kept instead of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _open(session: Session, key: ApiKey, *, kind: str, ttl: dt.timedelta) -> Opened:
    now = dt.datetime.now(dt.UTC)
    # Sign-ins are rare: each clears what ended over a day ago, so the table stays small.
    gone = now - PURGE_AFTER
    session.execute(
        delete(ConsoleSession).where(
            or_(ConsoleSession.expires_at < gone, ConsoleSession.ended_at < gone)
        )
    )
    ends = now + ttl if key.expires_at is None else min(now + ttl, key.expires_at)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=digest(token),
            kind=kind,
            csrf_hash=digest(csrf),
            api_key_id=key.id,
            tenant_id=key.tenant_id,
            expires_at=ends,
        )
    )
    session.flush()
    return Opened(token, csrf, ends)


def open_session(*, session: Session, api_key: str, ttl: dt.timedelta) -> Opened:
    """Check `api_key` and open a session on it (AuthError saying why not)."""
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(api_key))).first()
    return _open(session, checked_key(key), kind="session", ttl=ttl)


def open_link(*, session: Session, key_prefix: str, ttl: dt.timedelta) -> Opened:
    """A one-time sign-in token on the live key with this prefix (`docqueue console-link`)."""
    now = dt.datetime.now(dt.UTC)
    keys = session.scalars(select(ApiKey).where(ApiKey.prefix == key_prefix)).all()
    live = [
        k for k in keys if k.revoked_at is None and (k.expires_at is None or k.expires_at > now)
    ]
    if len(live) != 1:
        raise AuthError("prefix names no live key" if not live else "prefix names several keys")
    return _open(session, live[0], kind="link", ttl=ttl)


def redeem_link(*, session: Session, token: str, ttl: dt.timedelta) -> Opened:
    """Use up a one-time link and open a session on its key (AuthError if spent or stale)."""
    key_id = session.scalar(
        update(ConsoleSession)
        .where(
            ConsoleSession.token_hash == digest(token),
            ConsoleSession.kind == "link",
            ConsoleSession.ended_at.is_(None),
            ConsoleSession.expires_at > func.now(),
        )
        .values(ended_at=func.now())
        .returning(ConsoleSession.api_key_id)
    )
    if key_id is None:
        raise AuthError("link is used up or has expired")
    key = session.get(ApiKey, key_id)
    return _open(session, checked_key(key), kind="session", ttl=ttl)


def resolve(*, session: Session, token: str) -> Signed | None:
    """The live session behind a cookie, or None."""
    row = session.execute(
        select(Tenant, ApiKey.prefix, ApiKey.id, ConsoleSession.csrf_hash)
        .join(ApiKey, ApiKey.id == ConsoleSession.api_key_id)
        .join(Tenant, Tenant.id == ConsoleSession.tenant_id)
        .where(
            ConsoleSession.token_hash == digest(token),
            ConsoleSession.kind == "session",
            ConsoleSession.ended_at.is_(None),
            ConsoleSession.expires_at > func.now(),
            ApiKey.revoked_at.is_(None),
            ApiKey.expires_at.is_(None) | (ApiKey.expires_at > func.now()),
        )
    ).first()
    if row is None:
        return None
    tenant, prefix, key_id, csrf_hash = row
    return Signed(tenant, prefix, key_id, csrf_hash)


def end_session(*, session: Session, token: str) -> None:
    """Sign out: the cookie opens nothing from now on."""
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == digest(token), ConsoleSession.ended_at.is_(None))
        .values(ended_at=func.now())
    )
