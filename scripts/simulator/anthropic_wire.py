"""Anthropic Messages wire format: request parsing and checks, answers, errors."""

from __future__ import annotations

import re
from typing import Any

from scripts.simulator.answers import schema_from_text
from scripts.simulator.calls import (
    Answer,
    Call,
    Transcript,
    WireError,
    content_texts,
    error_text,
    new_id,
    require_messages,
    require_model,
)
from scripts.simulator.prefix_cache import NO_CACHE, CacheUse, anthropic_prefix, with_prefix

TOOL_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,128}")


def parse(body: dict[str, Any]) -> Call:
    """Check a /v1/messages body like the API does and reduce it to a Call."""
    model = require_model(body, "model: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise WireError(400, "max_tokens: Field required", "max_tokens")
    if max_tokens < 1:
        raise WireError(400, "max_tokens: Input should be greater than or equal to 1")
    messages = require_messages(body, "messages: at least one message is required")
    if body.get("stream"):
        raise WireError(400, "stream: streaming is not supported by the simulator")
    _check_roles_and_tools(messages)

    system = content_texts(body.get("system"))
    seen = Transcript(texts=list(system), document=list(system), system=system)
    for msg in messages:
        pieces = content_texts(msg.get("content"))
        seen.texts.extend(pieces)
        if msg.get("role") == "user":
            seen.document.extend(pieces)
            seen.first_user = pieces if seen.first_user is None else seen.first_user

    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    _check_tools(tools)
    call = seen.call(
        model=model,
        messages=messages,
        schema_objs=[*tools, _output_schema(body)],
        target=_target(body, tools, seen.prompt),
        max_tokens=max_tokens,
    )
    return with_prefix(call, anthropic_prefix(model, tools, body.get("system"), messages))


def _blocks(msg: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = msg.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind]


def _check_roles_and_tools(messages: list[dict[str, Any]]) -> None:
    """Roles are user/assistant; each tool_use is answered by a tool_result in the next turn."""
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role == "system":
            raise WireError(
                400,
                'messages: Unexpected role "system". The Messages API accepts '
                'a top-level `system` parameter, not "system" as an input message '
                "role.",
            )
        if role not in ("user", "assistant"):
            raise WireError(400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if role == "user" and i > 0:
            expected = {b.get("id") for b in _blocks(messages[i - 1], "tool_use")}
            for j, block in enumerate(msg.get("content") or []):
                if (
                    isinstance(block, dict)
                    and block.get("type") == "tool_result"
                    and (block.get("tool_use_id") not in expected)
                ):
                    raise WireError(
                        400,
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` "
                        "found in `tool_result` blocks: "
                        f"{block.get('tool_use_id')}. Each `tool_result` block "
                        "must have a corresponding `tool_use` block in the "
                        "previous message.",
                    )
        uses = _blocks(msg, "tool_use") if role == "assistant" else []
        if not uses or i + 1 >= len(messages):
            continue  # a trailing assistant turn is a prefill, answered by this request
        answered = {b.get("tool_use_id") for b in _blocks(messages[i + 1], "tool_result")}
        missing = [str(b.get("id")) for b in uses if b.get("id") not in answered]
        if missing:
            raise WireError(
                400,
                f"messages.{i}: `tool_use` ids were found without "
                f"`tool_result` blocks immediately after: {', '.join(missing)}. "
                "Each `tool_use` block must have a corresponding `tool_result` "
                "block in the next message.",
            )


def _check_tools(tools: list[dict[str, Any]]) -> None:
    """Custom tools need a valid name and an input_schema, as the API's validation says."""
    for i, tool in enumerate(tools):
        if tool.get("type") not in (None, "custom"):
            continue  # server tools (web search, ...) have their own shapes
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME_RE.fullmatch(name):
            raise WireError(
                400,
                f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'",
            )
        if not isinstance(tool.get("input_schema"), dict):
            raise WireError(400, f"tools.{i}.custom.input_schema: Field required")


def _output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The structured-output schema (output_format, or output_config.format), if any."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else body.get("output_format")
    if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]  # type: ignore[no-any-return]
    return None


def _target(
    body: dict[str, Any], tools: list[dict[str, Any]], prompt: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The schema to answer and, when tools are offered, the tool to call."""
    by_name = {str(t.get("name")): t for t in tools if "input_schema" in t}
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
    kind = (choice or {}).get("type", "auto")
    if by_name and kind != "none":
        name = next(iter(by_name))
        if kind == "tool":
            name = str((choice or {}).get("name"))
            if name not in by_name:
                raise WireError(400, f"tool_choice: tool '{name}' was not found in `tools`")
        schema = by_name[name].get("input_schema")
        return (schema if isinstance(schema, dict) else {"type": "object"}), name
    return _output_schema(body) or schema_from_text(prompt), None


def render(call: Call, answer: Answer, cache: CacheUse = NO_CACHE) -> Any:
    """A Message carrying the answer as a tool_use input, or its text as a text block.

    Its `input_tokens` count only what follows the cached prefix, as the real API's do.
    """
    if call.tool_name is not None:
        # A cut-off tool call carries no usable input; a non-object answer gets wrapped,
        # because the real API only ever returns an object as tool input.
        value = {} if answer.truncated else answer.value
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": new_id("toolu_01"),
            "name": call.tool_name,
            "input": value if isinstance(value, dict) else {"value": value},
        }
        stop = "tool_use"
    else:
        block = {"type": "text", "text": answer.text}
        stop = "end_turn"
    return {
        "id": new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": [block],
        "stop_reason": "max_tokens" if answer.truncated else stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": answer.input_tokens - cache.read - cache.written,
            "output_tokens": answer.output_tokens,
            "cache_read_input_tokens": cache.read,
            "cache_creation_input_tokens": cache.written,
            "service_tier": "standard",
        },
    }


# Anthropic's error `type` for each status it uses.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit (simulated).",
    500: "Internal server error",
    529: "Overloaded",
}


def error_body(status: int, message: str | None = None, param: str | None = None) -> Any:
    """Anthropic's error envelope: {"type": "error", "error": {type, message}, request_id}."""
    del param  # Anthropic puts the offending path inside the message instead
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    text = error_text(status, message, ERROR_MESSAGES)
    return {
        "type": "error",
        "error": {"type": kind, "message": text},
        "request_id": new_id("req_01"),
    }
