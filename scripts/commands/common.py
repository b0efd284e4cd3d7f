"""What the API commands share: a client from the environment and one-line failures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from scripts.client import Client

Retries = Annotated[int, typer.Option(help="Attempts per request (network errors, 5xx, 429).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer instead.")]

INTERRUPTED = "interrupted: run the same command again to resume (nothing is duplicated)"


def retry_line(retry: int, retries: int, wait_s: float, reason: str) -> str:
    """`retrying (2/5) in 1.6 s: HTTP 503 ...`: what a retrying call prints as it waits."""
    return f"retrying ({retry}/{retries}) in {wait_s:.1f} s: {reason}…"


def _print_retry(retry: int, retries: int, wait_s: float, reason: str) -> None:
    typer.echo(retry_line(retry, retries, wait_s, reason), err=True)


def api_client(retries: int) -> Client:
    """A client for DOCQUEUE_API_URL as the tenant of DOCQUEUE_API_KEY (env or `.env`).

    `retries` counts attempts, the first included; each wait is announced on stderr.
    """
    from schemas.config import get_settings
    from scripts.client import Client

    settings = get_settings()
    return Client(
        settings.docqueue_api_url,
        settings.docqueue_api_key or "",
        max_retries=max(1, retries) - 1,
        on_retry=_print_retry,
    )


def _told_as_is(exc: Exception) -> bool:
    """Whether an error's message is already the line to show (a client or source error)."""
    from scripts.client import DocqueueError

    if isinstance(exc, DocqueueError):
        return True
    # Only modules already loaded can have raised their errors: no import for the check.
    sources = sys.modules.get("scripts.ingest.sources")
    return sources is not None and isinstance(exc, sources.SourceError)


def guarded(action: Callable[[], None]) -> None:
    """Run a CLI action; any failure is one line on stderr and a non-zero exit, no traceback."""
    try:
        action()
    except KeyboardInterrupt:
        typer.echo(INTERRUPTED, err=True)
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI promises one line, never a traceback
        line = str(exc) if _told_as_is(exc) else f"{type(exc).__name__}: {exc}"
        typer.echo(f"error: {line}", err=True)
        raise typer.Exit(1) from None


def with_api(retries: int, action: Callable[[Client], None]) -> None:
    """Run `action` with a client; any failure is one line on stderr and exit 1."""

    def call() -> None:
        with api_client(retries) as api:
            action(api)

    guarded(call)
