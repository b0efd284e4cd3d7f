"""What the batch simulator tests share: request bodies, JSONL, polling and the billing record."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from scripts.simulator import BackgroundSimulator
from tests.unit.simulator.harness import DOC, Invoice, user

T = TypeVar("T")
OPENAI_MODEL = "gpt-5.6-luna"
ANTHROPIC_MODEL = "claude-sim-haiku"
POLL_TIMEOUT_S = 20.0


def chat_body(text: str = DOC, model: str = OPENAI_MODEL) -> dict[str, Any]:
    """A chat.completions body asking for an Invoice through a forced tool call."""
    return {
        "model": model,
        "messages": user(text),
        "tools": [
            {
                "type": "function",
                "function": {"name": "Invoice", "parameters": Invoice.model_json_schema()},
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "Invoice"}},
    }


def messages_body(text: str = DOC) -> dict[str, Any]:
    """A /v1/messages body asking for an Invoice through a forced tool call."""
    return {
        "model": ANTHROPIC_MODEL,
        "max_tokens": 2048,
        "messages": user(text),
        "tools": [{"name": "Invoice", "input_schema": Invoice.model_json_schema()}],
        "tool_choice": {"type": "tool", "name": "Invoice"},
    }


def jsonl_line(custom_id: str, body: Any, **overrides: Any) -> dict[str, Any]:
    """One Batch API input line."""
    line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    return line | overrides


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    """Lines as a JSONL file."""
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def read_jsonl(data: bytes) -> list[dict[str, Any]]:
    """A JSONL file's objects."""
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def poll(fetch: Callable[[], T], done: Callable[[T], bool]) -> T:
    """Call `fetch` until `done` holds for its result, or fail after POLL_TIMEOUT_S."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still not done: {value!r}"
        time.sleep(0.05)


def billed_items(sim: BackgroundSimulator) -> list[dict[str, Any]]:
    """GET /sim/batches/billed."""
    response = httpx.get(f"{sim.base_url}/sim/batches/billed")
    response.raise_for_status()
    return list(response.json())
