"""SQLAlchemy model of console sign-ins: a browser session opened with a tenant's API key."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, _now


class ConsoleSession(Base):
    """One signed-in browser: only the hashes of its cookie and CSRF token are kept.

    It lives as long as the key it was opened with: revoking or expiring the key ends it
    (`storage.console_sessions.resolve` checks the key on every request).
    """

    __tablename__ = "console_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the cookie
    kind: Mapped[str] = mapped_column(String(8))  # session | link (one-time, exchanged once)
    csrf_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the forms' token
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = _now()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
