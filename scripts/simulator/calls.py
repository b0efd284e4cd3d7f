"""The provider-neutral view of one completion request, and the wire-level request error."""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


@dataclass
class Call:
    """What the simulator needs from a parsed OpenAI or Anthropic request."""

    model: str
    texts: list[str]  # every message's text: input tokens
    schema_objs: list[Any]  # tools and response schemas as sent: input tokens too
    document: str  # all non-assistant text: where [[sim:...]] directives are read
    seed_text: str  # the first user message (else the system prompt): words and answer seed
    schema: dict[str, Any] | None  # what to answer; None means plain text
    tool_name: str | None  # answer as a call of this tool; None means in the content
    first_turn: bool  # no assistant turn yet (so not a re-ask)
    max_tokens: int | None


@dataclass(frozen=True)
class Answer:
    """What goes back: the value, its text as sent, token counts, and whether it was cut off."""

    value: Any
    text: str
    input_tokens: int
    output_tokens: int
    truncated: bool


@dataclass
class Transcript:
    """A conversation's message texts, sorted by what the simulator uses each for."""

    texts: list[str]  # every message's text: input tokens
    document: list[str]  # all non-assistant text: where [[sim:...]] directives are read
    system: list[str] = field(default_factory=list)
    first_user: list[str] | None = None

    @property
    def prompt(self) -> str:
        """The system text, then the first user message: where a schema dump may stand."""
        return "\n".join([*self.system, *(self.first_user or [])])

    def call(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        schema_objs: list[Any],
        target: tuple[dict[str, Any] | None, str | None],
        max_tokens: int | None,
    ) -> Call:
        """The Call answering `target` (the schema, and the tool to call, if any)."""
        schema, tool_name = target
        return Call(
            model=model,
            texts=self.texts,
            schema_objs=schema_objs,
            document="\n".join(self.document),
            seed_text=seed_text("\n".join(self.first_user or []), "\n".join(self.system)),
            schema=schema,
            tool_name=tool_name,
            first_turn=not any(m.get("role") == "assistant" for m in messages),
            max_tokens=max_tokens,
        )


class WireError(Exception):
    """A request the real API would refuse: status, message, and the parameter at fault."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def error_text(status: int, message: str | None, wording: dict[int, str]) -> str:
    """The error message to send: the given one, else the provider's wording for the status."""
    return message or wording.get(status, f"Simulated error (status {status}).")


def new_id(prefix: str, length: int = 24) -> str:
    """An id shaped like the providers' (prefix plus random letters and digits)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def content_texts(content: Any) -> list[str]:
    """Text pieces of a message content: a string, or blocks (text, tool input, tool result)."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if not isinstance(content, list):
        return out
    for block in content:
        if isinstance(block, str):
            out.append(block)
        elif isinstance(block, dict):
            if isinstance(block.get("text"), str):
                out.append(block["text"])
            elif block.get("type") == "tool_use":
                out.append(json.dumps(block.get("input"), separators=(",", ":")))
            elif block.get("type") == "tool_result":
                out.extend(content_texts(block.get("content")))
    return out


def require_messages(body: dict[str, Any], message: str) -> list[dict[str, Any]]:
    """The `messages` list, every item an object; else the API's 400."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(400, message, "messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise WireError(400, f"messages.{i}: Input should be a valid dictionary", "messages")
    return messages


def require_model(body: dict[str, Any], message: str) -> str:
    """The `model` string; else the API's 400."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError(400, message, "model")
    return model


def seed_text(first_user: str, system: str) -> str:
    """The document the answer is drawn from: the first user message, else the system prompt."""
    # The system prompt may hold instructor's schema dump: its words make poor answers.
    return first_user if any(c.isalpha() for c in first_user) else system
