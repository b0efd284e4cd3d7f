"""Shared by the adapter tests: request bodies, simulator knobs and polling to the end."""

from __future__ import annotations

import time
from typing import Any

import httpx

from scripts.simulator import BackgroundSimulator
from tasks.batchlane.providers import BatchProvider, BatchRequest, Polled

DOC = "INVOICE 2291 from Acme Widgets Corporation to Globex Industries for consulting."
SCHEMA = {
    "type": "object",
    "properties": {"vendor": {"type": "string"}, "total": {"type": "number"}},
    "required": ["vendor", "total"],
}
POLL_TIMEOUT_S = 20.0


def chat_request(custom_id: str, text: str = DOC) -> BatchRequest:
    """A chat.completions body as the realtime lane posts it."""
    body = {
        "model": "gpt-5.6-luna",
        "messages": [{"role": "user", "content": text}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "Invoice", "schema": SCHEMA},
        },
    }
    return BatchRequest.of(custom_id, body)


def messages_request(custom_id: str, text: str = DOC) -> BatchRequest:
    """A /v1/messages body as the realtime lane posts it."""
    body: dict[str, Any] = {
        "model": "claude-sim-haiku",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}],
        "tools": [{"name": "Invoice", "input_schema": SCHEMA}],
        "tool_choice": {"type": "tool", "name": "Invoice"},
    }
    return BatchRequest.of(custom_id, body)


def configure(sim: BackgroundSimulator, **changes: Any) -> None:
    """POST /sim/config."""
    httpx.post(f"{sim.base_url}/sim/config", json=changes).raise_for_status()


def billed_ids(sim: BackgroundSimulator) -> set[str]:
    """The custom_ids the simulator billed."""
    return {b["custom_id"] for b in httpx.get(f"{sim.base_url}/sim/batches/billed").json()}


def poll_until_ended(provider: BatchProvider, batch_id: str) -> Polled:
    """Poll through the adapter until the batch has ended."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        polled = provider.poll(provider_batch_id=batch_id)
        if polled.ended:
            return polled
        assert time.monotonic() < deadline, f"batch {batch_id} never ended: {polled}"
        time.sleep(0.05)
