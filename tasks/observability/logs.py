"""structlog setup shared by every process: JSON lines, contextvars, PII redaction."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from schemas.config import Settings

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# A regex, not the phonenumbers library: it runs on every log line, and it only has to
# mask, not parse. Candidates are then filtered: E.164 allows at most 15 digits, and dotted
# quads (IPv4 addresses) and ISO dates are never phone numbers.
_PHONE = re.compile(r"(?<![\w.:])\+?\d[\d\s().-]{7,}\d(?![\w.:])")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?")
# str(pydantic.ValidationError), in a traceback or a caller's `error=str(exc)`, quotes every
# bad value and a message that may quote more: "  Value error, 'Invoice ACME' ... [type=
# value_error, input_value='Invoice ACME ...', input_type=str]". The field path (the line
# above it) and the error type stay; the rest of the line goes.
_PYDANTIC_ERROR = re.compile(r"(?m)^([ \t]+)\S[^\n]*?(\[type=[\w.-]+)[^\n]*$")
# Keys that may never reach a log line, whatever a caller binds.
_FORBIDDEN = frozenset({"text", "content", "content_base64", "document", "api_key"})
# Structural values we set ourselves: never free text, and a UUID's all-digit groups
# ("...-1234-4567-...") look like a phone number to _PHONE.
_VERBATIM = frozenset(
    {"timestamp", "level", "logger", "request_id", "tenant_id", "job_id", "batch_id"}
    | {"delivery_id", "model", "tier", "status", "outcome"}
)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    if _IPV4.fullmatch(found.strip()) or _ISO_DATE.fullmatch(found.strip()):
        return found
    digits = sum(char.isdigit() for char in found)
    return "[phone]" if 8 <= digits <= 15 else found


def redact(value: str) -> str:
    """Mask emails and phone numbers in free text, and the values pydantic errors quote."""
    if "[type=" in value:  # the common case skips the multi-line pattern
        value = _PYDANTIC_ERROR.sub(r"\1\2]", value)
    return _PHONE.sub(_phone, _EMAIL.sub("[email]", value))


def _scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key in _FORBIDDEN:
            event[key] = "[omitted]"
        elif isinstance(event[key], str) and key not in _VERBATIM:
            event[key] = redact(event[key])
    return event


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging (Celery, SQLAlchemy...) to JSON lines on stderr."""
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _scrub,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Other libraries log through stdlib: same processors, so their lines are JSON and
    # redacted too (Celery's setup_logging signal hands worker logging to us).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)  # warnings.warn() lines become JSON too
