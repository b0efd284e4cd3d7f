"""`Client`: every call of the docqueue HTTP API, with typed errors and retries that wait.

The errors and the typed views are re-exported here too, so one import line serves a
program: `from docqueue.client import Client, NotFoundError, DocqueueError`.
"""

from __future__ import annotations

from .batches import BatchCalls
from .catalog import CatalogCalls
from .errors import (
    ApiClientError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DocqueueError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from .estimates import EstimateCalls
from .jobs import JobCalls
from .models import BatchSummary, UsageLine, batch_outcome
from .polling import polls
from .review import ReviewCalls

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ApiClientError",
    "AuthenticationError",
    "BadRequestError",
    "BatchSummary",
    "Client",
    "ConflictError",
    "DocqueueError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "UsageLine",
    "WaitTimeoutError",
    "batch_outcome",
    "polls",
]


class Client(BatchCalls, EstimateCalls, JobCalls, CatalogCalls, ReviewCalls):
    """Calls one docqueue deployment as one tenant.

    `Client(base_url=None, api_key=None, *, timeout=..., max_retries=5, on_retry=None,
    transport=None, max_wait_s=30, max_total_wait_s=120, max_call_s=None)`: the URL and key
    default to DOCQUEUE_API_URL (http://127.0.0.1:8000) and DOCQUEUE_API_KEY. Use it as a
    context manager, or call `close()`. Failures raise DocqueueError subclasses;
    `on_retry(retry, max_retries, wait_s, reason)` is called before each wait between
    tries. One call, its tries and waits included, ends by `max_call_s` (by default a try's
    read timeout plus `max_total_wait_s`).
    """
