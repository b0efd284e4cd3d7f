"""Prompt caching on the request side: the stable part of a request first, marked for Anthropic.

What a provider can cache is a prefix of the prompt. Both APIs put the tool definitions
(instructor's schema) ahead of the messages, whatever order the JSON body lists them in:
Anthropic caches in the order tools, system, messages; OpenAI renders tools into the start
of the prompt. So what is ours to order is the messages: the system prompt (instructions,
field guidance, the evidence note) goes first and the document, which differs per call,
after it. Anthropic caches only up to a block marked `cache_control`, so the system prompt
is sent as one text block carrying the mark; its prefix then covers tools and system.

Nothing here may vary between two builds of the same call (no timestamps, no ids): the
batch lane captures these exact bytes and replays a job's tape by their sha-256.
"""

from __future__ import annotations

from typing import Any

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}  # Anthropic's 5-minute cache


def stable_first(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The messages with every system message first, each group in its given order."""
    system = [m for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    return [*system, *rest]


def anthropic_system(messages: list[dict[str, str]]) -> list[dict[str, Any]] | None:
    """Anthropic's `system`: the system messages' text as one block marked for caching.

    None when there is no system text: the API refuses an empty text block.
    """
    text = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    if not text:
        return None
    return [{"type": "text", "text": text, "cache_control": dict(EPHEMERAL)}]


def without_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The conversation Anthropic takes in `messages`: everything but the system messages."""
    return [m for m in messages if m["role"] != "system"]
