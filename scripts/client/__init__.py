"""The docqueue API client: `Client`, its typed errors, and typed views of its answers.

from docqueue.client import Client, NotFoundError  # or: from docqueue import ...

with Client() as dq:  # DOCQUEUE_API_URL, DOCQUEUE_API_KEY
    batch = dq.submit_batch([{"text": "Invoice 42 ..."}], schema="invoice")
    done = dq.wait_batch(batch["id"], timeout_s=600)
    for line in dq.results(batch["id"]):
        print(line["status"], line["result"])

This folder is imported under two names: `docqueue` (setup.py maps it onto scripts/client/;
programs use that one) and `scripts.client` (the CLI and the tests, inside the repository).
Python loads it once per name, so the two are different modules with different classes:
`docqueue.NotFoundError` does not catch an error raised by a `scripts.client.Client`. Use
one name per program and the question never arises.
"""

from .client import Client
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
from .lanes import LaneChoice, deadline_param, parse_duration
from .models import BatchSummary, UsageLine, batch_outcome
from .polling import polls
from .transport import DEFAULT_TIMEOUT, OnRetry, RetryPolicy

__all__ = [
    "DEFAULT_TIMEOUT",
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
    "LaneChoice",
    "NotFoundError",
    "OnRetry",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "UnprocessableEntityError",
    "UsageLine",
    "WaitTimeoutError",
    "batch_outcome",
    "deadline_param",
    "parse_duration",
    "polls",
]
