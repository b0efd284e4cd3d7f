"""A validation error quoting the document reaches the job's message, never a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import ValidationError

from schemas.config import Settings
from schemas.jobs import ErrorType
from tasks.engine.chain import brief
from tasks.observability.logs import configure_logging, redact
from tasks.worker.finished import loggable_error
from tests.support.invalid_answers import MARKER, invalid_invoice


@pytest.fixture
def log_lines() -> Iterator[Any]:
    """The workers' real JSON logging, written to a buffer; yields a reader of its lines."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings(log_json=True, log_level="info"))
    out = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))  # same chain

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in out.getvalue().splitlines() if line]

    yield read
    structlog.configure(**saved)
    root.handlers, root.level = handlers, level


def test_the_jobs_message_keeps_the_field_path_the_error_type_and_the_message() -> None:
    message = brief(invalid_invoice())
    assert message.startswith("1 error(s); first: (root) [value_error]: Value error, ")
    assert MARKER in message  # the tenant reads this about its own document


def test_the_logged_form_of_a_validation_failure_keeps_only_path_and_type() -> None:
    stored = f"answer failed validation after 1 re-asks: {brief(invalid_invoice())}"
    logged = loggable_error(ErrorType.VALIDATION_FAILED, stored)
    assert logged == (
        "answer failed validation after 1 re-asks: 1 error(s); first: (root) [value_error]"
    )


def test_a_validation_message_not_in_the_known_shape_is_omitted_from_logs() -> None:
    assert loggable_error(ErrorType.VALIDATION_FAILED, f"odd: {MARKER}") == "[omitted]"
    assert loggable_error(ErrorType.INTERNAL, f"KeyError: '{MARKER}'") == "KeyError"


def test_a_logged_validation_error_traceback_keeps_paths_and_types_not_values(
    log_lines: Any,
) -> None:
    log = structlog.get_logger("test.validation")
    exc = invalid_invoice()
    try:
        raise exc
    except ValidationError:
        log.exception("job_crashed", error=str(exc))
    lines = log_lines()
    assert [line["event"] for line in lines] == ["job_crashed"]
    rendered = json.dumps(lines)
    assert MARKER not in rendered
    assert "[type=value_error]" in lines[0]["error"]
    assert "[type=value_error]" in lines[0]["exception"]


def test_the_job_finished_line_of_a_validation_failure_carries_no_document_value(
    log_lines: Any,
) -> None:
    stored = f"answer failed validation after 1 re-asks: {brief(invalid_invoice())}"
    structlog.get_logger("test.finished").info(
        "job_finished", error=loggable_error(ErrorType.VALIDATION_FAILED, stored)
    )
    (line,) = log_lines()
    assert MARKER not in json.dumps(line)
    assert line["error"].endswith("first: (root) [value_error]")


def test_redaction_leaves_text_without_pydantic_errors_alone() -> None:
    kept = "a list [type=unknown] of things, indented\n  [type=x] stays as written"
    assert redact("plain line") == "plain line"
    assert redact(kept) == "a list [type=unknown] of things, indented\n  [type=x] stays as written"
