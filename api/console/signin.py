"""Sign-in with an API key, one-time sign-in links, and sign-out."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.auth import SIGNIN_CSRF_COOKIE, ViewerDep, check_csrf, forget, set_cookie, start
from api.console.errors import CsrfRefused
from api.console.render import page
from api.deps import SessionDep, SettingsDep
from storage.console_sessions import end_session, open_session, redeem_link
from storage.errors import AuthError

router = APIRouter(prefix="/console", include_in_schema=False)
HOME = "/console/batches"


def _next(path: str | None) -> str:
    # Only a console path: never an open redirect to another site (`//evil`, `https:`).
    ok = path and path.startswith("/console/") and not path.startswith("//") and "\\" not in path
    return path if ok and path else HOME


def _form(request: Request, *, error: str = "", next_path: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "signin.html", status=status, error=error, signin_csrf=token, next=next_path
    )
    set_cookie(request, response, SIGNIN_CSRF_COOKIE, token, 3600)
    return response


@router.get("", response_class=RedirectResponse)
def console_home() -> RedirectResponse:
    """The console's front door: the batches page (which asks to sign in first)."""
    return RedirectResponse(HOME, status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "") -> Response:
    """The sign-in form: paste a tenant API key."""
    return _form(request, next_path=_next(next))


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Exchange an API key for a session cookie; the key itself is never stored here."""
    expected = request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    if not csrf or not expected or not hmac.compare_digest(csrf, expected):
        raise CsrfRefused
    ttl = dt.timedelta(seconds=settings.app.console.session_ttl_s)
    try:
        opened = open_session(session=session, api_key=api_key.strip(), ttl=ttl)
    except AuthError as exc:
        return _form(request, error=f"That API key {exc}.", next_path=_next(next), status=401)
    session.commit()  # before the answer: the next page load must find the session
    response = RedirectResponse(_next(next), status_code=303)
    start(request, response, opened)
    response.delete_cookie(SIGNIN_CSRF_COOKIE, path="/console")
    return response


@router.get("/signin/link", response_class=HTMLResponse)
def signin_link(
    request: Request, session: SessionDep, settings: SettingsDep, token: str = ""
) -> Response:
    """A one-time sign-in link (`docqueue console-link`): used up by its first visit."""
    ttl = dt.timedelta(seconds=settings.app.console.session_ttl_s)
    try:
        opened = redeem_link(session=session, token=token, ttl=ttl)
    except AuthError as exc:
        return _form(request, error=f"That sign-in {exc}: paste an API key.", status=401)
    session.commit()
    response = RedirectResponse(HOME, status_code=303)
    start(request, response, opened)
    return response


@router.post("/signout", response_class=RedirectResponse)
def signout(
    viewer: ViewerDep,
    session: SessionDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """End this browser's session."""
    check_csrf(viewer, csrf)
    end_session(session=session, token=viewer.token)
    session.commit()
    response = RedirectResponse("/console/signin", status_code=303)
    forget(response)
    return response
