"""`docqueue console-link`: a one-time sign-in link to the console for an API key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer


def console_link(
    key_prefix: Annotated[str, typer.Argument(help="the 8 hex characters after `dq_`")],
    api_url: Annotated[
        str | None, typer.Option(help="where the API answers (default DOCQUEUE_API_URL)")
    ] = None,
) -> None:
    """Print a one-time sign-in link for the key with this prefix (works once, for a while)."""
    from schemas.config import get_settings
    from storage.console_sessions import open_link
    from storage.db import session_scope
    from storage.errors import AuthError

    settings = get_settings()
    ttl = dt.timedelta(seconds=settings.app.console.link_ttl_s)
    try:
        with session_scope() as session:
            opened = open_link(session=session, key_prefix=key_prefix.strip(), ttl=ttl)
    except AuthError as exc:
        typer.echo(f"error: that key {exc}", err=True)
        raise typer.Exit(1) from None
    base = (api_url or settings.docqueue_api_url).rstrip("/")
    typer.echo(f"{base}/console/signin/link?token={opened.token}")
