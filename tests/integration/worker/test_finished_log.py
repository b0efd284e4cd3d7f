"""The `job_finished` line of a job that failed validation, read back from real Postgres."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from schemas.config import Settings
from schemas.jobs import ErrorType, JobStatus
from storage import jobs as job_store
from storage.db import session_scope
from tasks.engine.chain import brief
from tasks.observability.logs import configure_logging
from tasks.worker import finished
from tests.integration.flow.budget_accounts import tenant_and_job
from tests.support.invalid_answers import MARKER, invalid_invoice


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The workers' JSON logging into a buffer; finished.py logs through a fresh logger."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings(log_json=True, log_level="info"))
    out = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))
    # the module's logger may already be cached on an earlier configuration
    monkeypatch.setattr(finished, "log", structlog.get_logger(finished.__name__))
    yield out
    structlog.configure(**saved)
    root.handlers, root.level = handlers, level


def test_a_validation_failure_is_logged_with_its_field_path_and_type_not_its_values(
    pg_url: str, service_env: dict[str, str], captured: io.StringIO
) -> None:
    _tenant_id, job_id = tenant_and_job(pg_url, monthly="5.00")
    stored = f"answer failed validation after 1 re-asks: {brief(invalid_invoice())}"
    with session_scope(pg_url) as session:
        job = job_store.claim(session=session, job_id=job_id, worker="test:1", lease_s=60)
        assert job is not None
        done = job_store.finish(
            session=session,
            job_id=job_id,
            attempt=job.attempts,
            status=JobStatus.FAILED,
            error_type=ErrorType.VALIDATION_FAILED,
            error_message=stored,
        )
        assert done is not None

    finished.on_job_finished(done)

    lines: list[dict[str, Any]] = [json.loads(x) for x in captured.getvalue().splitlines()]
    (line,) = [x for x in lines if x["event"] == "job_finished"]
    assert line["error_type"] == "validation_failed"
    assert line["error"] == (
        "answer failed validation after 1 re-asks: 1 error(s); first: (root) [value_error]"
    )
    assert MARKER not in captured.getvalue()
    with session_scope(pg_url) as session:  # the tenant still reads the whole message
        row = job_store.load_job(session=session, job_id=job_id)
        assert row is not None
        assert MARKER in (row.error_message or "")
