"""What the API commands share: a client from the environment and one-line failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from scripts.ingest.client import ApiClient

Retries = Annotated[int, typer.Option(help="Attempts per request (network errors, 5xx, 429).")]


def api_client(retries: int) -> ApiClient:
    """A client for DOCQUEUE_API_URL as the tenant of DOCQUEUE_API_KEY."""
    from schemas.config import get_settings
    from scripts.ingest.run import client

    settings = get_settings()
    return client(url=settings.docqueue_api_url, key=settings.docqueue_api_key, retries=retries)


def with_api(retries: int, action: Callable[[ApiClient], None]) -> None:
    """Run `action` with a client; any failure is one line on stderr and exit 1."""
    from scripts.ingest.run import guarded

    def call() -> None:
        with api_client(retries) as api:
            action(api)

    guarded(call)
