"""Rendering console pages: one autoescaping Jinja2 environment and the headers every page has.

Autoescape is on for every template, so document text, file names, metadata and values
are always shown as text. The Content-Security-Policy allows scripts and styles only from
/console/static: an injected inline script or `onerror=` handler does not run.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_URL = "/console/static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages hold a tenant's data: never in a shared cache
}


def _usd(value: Decimal | float | str | None) -> str:
    return "$0" if value in (None, "") else f"${Decimal(str(value)):,.4f}"


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def band(confidence: float | None) -> str:
    """The colour band of a confidence (always shown beside the number, never alone)."""
    if confidence is None:
        return "none"
    return "high" if confidence >= 0.9 else "mid" if confidence >= 0.6 else "low"


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a typo in a template fails the test, not the page
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(usd=_usd, when=_when, band=band)


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` with the console's headers."""
    context.setdefault("viewer", None)
    context.setdefault("csrf", "")
    html = ENV.get_template(template).render(
        request=request, static=STATIC_URL, poll_ms=context.pop("poll_ms", 2000), **context
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


TITLES = {401: "Sign in needed", 403: "Refused", 404: "Not found", 422: "Not found"}


def is_console(request: Request) -> bool:
    """Whether the request is for a console page (its errors are pages, not JSON)."""
    return request.url.path == "/console" or request.url.path.startswith("/console/")


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a console page (a malformed id in a URL is a 404, like an unknown one)."""
    status = 404 if status == 422 else status
    title = TITLES.get(status, "Something went wrong")
    return page(request, "error.html", status=status, code=status, title=title, message=message)
