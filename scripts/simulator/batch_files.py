"""OpenAI Files, in memory: multipart upload, metadata, raw content, delete; and input checks."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from scripts.simulator.batch_core import Job
from scripts.simulator.calls import new_id

MAX_LINES = 50_000
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_LINE_ERRORS = 100
ENDPOINT = "/v1/chat/completions"
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
LINE_ERRORS = {
    "expired": (
        "batch_expired",
        "This request could not be executed before the completion window expired.",
    ),
    "canceled": (
        "batch_cancelled",
        "This request was not executed because the batch was cancelled.",
    ),
}


@dataclass
class StoredFile:
    """One uploaded (or batch-produced) file."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def to_json(self) -> dict[str, Any]:
        """The File object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


def new_file(filename: str, purpose: str, data: bytes) -> StoredFile:
    """A file with a fresh id shaped like OpenAI's."""
    return StoredFile(new_id("file-", 22), filename, purpose, data)


def parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart/form-data body: name -> (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields
    for part in message.get_payload():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    return fields


@dataclass
class Checked:
    """A batch input file read line by line: its requests, its model, or why it fails."""

    items: list[tuple[str, Any]] = field(default_factory=list)
    model: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(
        self, code: str, message: str, line: int | None = None, param: str | None = None
    ) -> None:
        """Record one validation error (the API stops listing them after a while)."""
        if len(self.errors) < MAX_LINE_ERRORS:
            self.errors.append({"code": code, "message": message, "param": param, "line": line})


def check_input(data: bytes) -> Checked:
    """Validate a batch input file like the Batch API's validating phase does."""
    checked = Checked()
    if len(data) > MAX_FILE_BYTES:
        checked.fail("file_too_large", f"The input file exceeds the {MAX_FILE_BYTES} byte limit.")
        return checked
    lines = [line for line in data.splitlines() if line.strip()]
    if not lines:
        checked.fail("empty_file", "The input file is empty.")
        return checked
    if len(lines) > MAX_LINES:
        checked.fail(
            "too_many_tasks", f"The input file has {len(lines)} requests; the limit is {MAX_LINES}."
        )
        return checked
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        _check_line(checked, number, line, seen)
    return checked


def _check_line(checked: Checked, number: int, line: bytes, seen: set[str]) -> None:
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        checked.fail("invalid_json_line", "This line is not parseable as valid JSON.", number)
        return
    custom_id, body = entry.get("custom_id"), entry.get("body")
    for name, ok in (
        ("custom_id", isinstance(custom_id, str) and custom_id),
        ("method", "method" in entry),
        ("url", "url" in entry),
        ("body", isinstance(body, dict)),
    ):
        if not ok:
            message = f"Missing required parameter: '{name}'."
            checked.fail("missing_required_parameter", message, number, name)
            return
    if entry["method"] != "POST":
        checked.fail("invalid_method", "The method for this request must be 'POST'.", number)
        return
    if entry["url"] != ENDPOINT:
        checked.fail(
            "url_mismatch",
            "The provided URL for this request does not match the batch endpoint.",
            number,
            "url",
        )
        return
    if custom_id in seen:
        checked.fail(
            "duplicate_custom_id",
            "The custom_id for this request is a duplicate of another request. "
            "The custom_id parameter must be unique for each request in a batch.",
            number,
            "custom_id",
        )
        return
    seen.add(str(custom_id))
    model = body.get("model") if isinstance(body, dict) else None
    if isinstance(model, str):
        if checked.model is None:
            checked.model = model
        elif model != checked.model:
            checked.fail(
                "model_mismatch",
                f"The provided model '{model}' does not match the model of the other "
                f"requests in this file ('{checked.model}'); a batch takes one model.",
                number,
                "body.model",
            )
            return
    checked.items.append((str(custom_id), body))


def result_lines(job: Job) -> tuple[bytes, bytes]:
    """The output file's lines (200 answers) and the error file's (the rest), in input order."""
    out: list[bytes] = []
    err: list[bytes] = []
    for index, (custom_id, _) in enumerate(job.items):
        settled = job.settled[index]
        line: dict[str, Any] = {"id": new_id("batch_req_", 32), "custom_id": custom_id}
        if settled.kind in LINE_ERRORS:
            code, message = LINE_ERRORS[settled.kind]
            line |= {"response": None, "error": {"code": code, "message": message}}
        else:
            response = {
                "status_code": settled.status,
                "request_id": new_id("req_"),
                "body": settled.body,
            }
            line |= {"response": response, "error": None}
        (out if settled.status == 200 else err).append(json.dumps(line).encode() + b"\n")
    return b"".join(out), b"".join(err)


def valid_metadata(metadata: Any) -> bool:
    """OpenAI's metadata rules: up to 16 pairs of strings, keys <= 64, values <= 512."""
    if not isinstance(metadata, dict) or len(metadata) > 16:
        return False
    return all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512
        for k, v in metadata.items()
    )
