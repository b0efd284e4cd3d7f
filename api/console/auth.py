"""Who is looking: the session cookie resolved to a tenant, and the CSRF check of forms.

Two cookies, both HttpOnly and SameSite=Strict, scoped to /console: the session token and
the session's CSRF token. Forms repeat the CSRF token in a hidden field; a POST is accepted
only when the field matches the cookie and the cookie matches the hash Postgres keeps for
the session (a cross-site page can neither read the cookie nor send it).
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from api.console.errors import CsrfRefused, SignInRequired
from api.deps import ReadSessionDep
from storage.console_sessions import Opened, Signed, resolve
from storage.models import Tenant

SESSION_COOKIE = "dq_console"
CSRF_COOKIE = "dq_console_csrf"
SIGNIN_CSRF_COOKIE = "dq_console_signin"  # the sign-in form's own token, before any session
PATH = "/console"


@dataclass(frozen=True)
class Viewer:
    """A signed-in browser: its tenant, its key's prefix, and the token its forms carry."""

    signed: Signed
    token: str
    csrf: str

    @property
    def tenant(self) -> Tenant:
        """The tenant whose data this browser sees."""
        return self.signed.tenant


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """An HttpOnly, SameSite=Strict cookie for /console (Secure when served over HTTPS)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def start(request: Request, response: Response, opened: Opened) -> None:
    """Hand a new session's two tokens to the browser."""
    left = max(1, int((opened.expires_at - dt.datetime.now(dt.UTC)).total_seconds()))
    set_cookie(request, response, SESSION_COOKIE, opened.token, left)
    set_cookie(request, response, CSRF_COOKIE, opened.csrf, left)


def forget(response: Response) -> None:
    """Drop the session's cookies."""
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path=PATH, httponly=True, samesite="strict")


def _viewer(request: Request, session: ReadSessionDep) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE)
    signed = resolve(session=session, token=token) if token else None
    if token is None or signed is None:
        raise SignInRequired(request.url.path)
    csrf = request.cookies.get(CSRF_COOKIE, "")
    return Viewer(signed, token, csrf if signed.csrf_ok(csrf) else "")


ViewerDep = Annotated[Viewer, Depends(_viewer)]


def check_csrf(viewer: Viewer, submitted: str | None) -> None:
    """Refuse a form whose token is not this session's (403)."""
    if not viewer.csrf or not submitted or not hmac.compare_digest(submitted, viewer.csrf):
        raise CsrfRefused
