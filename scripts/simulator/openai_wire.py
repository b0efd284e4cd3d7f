"""OpenAI Chat Completions wire format: request parsing and checks, answers, errors."""

from __future__ import annotations

import re
import time
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
from scripts.simulator.prefix_cache import NO_CACHE, CacheUse, openai_prefix, with_prefix

TOOL_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def parse(body: dict[str, Any]) -> Call:
    """Check a chat.completions body like the API does and reduce it to a Call."""
    model = require_model(body, "you must provide a model parameter")
    messages = require_messages(body, "[] is too short - 'messages'")
    if body.get("stream"):
        raise WireError(400, "stream=true is not supported by the simulator", "stream")
    _check_tool_sequence(messages)
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    fmt = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
    _check_tools(tools)
    spec = (fmt or {}).get("json_schema")
    if isinstance(spec, dict) and spec.get("strict"):
        label = f"response_format '{spec.get('name')}'"
        _check_strict(spec.get("schema"), label, "response_format")

    seen = Transcript(texts=[], document=[])
    for msg in messages:
        role = msg.get("role")
        pieces = content_texts(msg.get("content"))
        for call in msg.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                pieces.append(str(call["function"].get("arguments", "")))
        seen.texts.extend(pieces)
        if role != "assistant":
            seen.document.extend(pieces)
        if role in ("system", "developer"):
            seen.system.extend(pieces)
        elif role == "user" and seen.first_user is None:
            seen.first_user = pieces
    target = _target(tools, body.get("tool_choice"), fmt or {}, seen.prompt)
    schema_objs = [*tools, fmt.get("json_schema") if fmt else None]
    call = seen.call(
        model=model,
        messages=messages,
        schema_objs=schema_objs,
        target=target,
        max_tokens=_output_limit(body),
    )
    return with_prefix(call, openai_prefix(schema_objs, messages))


def _output_limit(body: dict[str, Any]) -> int | None:
    """The output cap: `max_completion_tokens` and the older `max_tokens`, each at least 1."""
    limits: list[int] = []
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise WireError(400, f"Invalid type for '{name}': expected an integer.", name)
        if value < 1:
            raise WireError(
                400,
                f"Invalid '{name}': integer below minimum value. "
                f"Expected a value >= 1, but got {value} instead.",
                name,
            )
        limits.append(value)
    return min(limits) if limits else None  # both given: the output stays within each


def _check_tool_sequence(messages: list[dict[str, Any]]) -> None:
    """Every assistant tool call needs a tool message; every tool message needs a call."""
    pending: dict[str, int] = {}
    open_calls: set[str] = set()
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role not in ROLES:
            raise WireError(
                400,
                f"Invalid value: '{role}'. Supported values are: "
                "'system', 'assistant', 'user', 'function', 'tool', and 'developer'.",
                f"messages[{i}].role",
            )
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in open_calls:
                raise WireError(
                    400,
                    "Invalid parameter: messages with role 'tool' must be a "
                    "response to a preceeding message with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            pending.pop(str(call_id), None)
            continue
        if pending:
            break
        open_calls = set()
        if role == "assistant":
            for call in msg.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("id"), str):
                    pending[call["id"]] = i
                    open_calls.add(call["id"])
    if pending:
        ids = ", ".join(pending)
        raise WireError(
            400,
            "An assistant message with 'tool_calls' must be followed by tool "
            "messages responding to each 'tool_call_id'. The following "
            f"tool_call_ids did not have response messages: {ids}",
            f"messages.[{min(pending.values())}].role",
        )


def _check_tools(tools: list[dict[str, Any]]) -> None:
    """Function tools need a valid name; strict ones a schema Structured Outputs accepts."""
    for i, tool in enumerate(tools):
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise WireError(
                400, f"Missing required parameter: 'tools[{i}].function'.", f"tools[{i}].function"
            )
        name = fn.get("name")
        if not isinstance(name, str) or not TOOL_NAME_RE.fullmatch(name):
            raise WireError(
                400,
                f"Invalid 'tools[{i}].function.name': string does not match "
                "pattern. Expected a string that matches the pattern "
                "'^[a-zA-Z0-9_-]+$'.",
                f"tools[{i}].function.name",
            )
        if fn.get("strict"):
            _check_strict(
                fn.get("parameters"), f"function '{name}'", f"tools[{i}].function.parameters"
            )


def _check_strict(schema: Any, label: str, param: str) -> None:
    """Strict mode's rules: every object closed and listing all its properties as required."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(schema, ())]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict):
            continue
        props = node.get("properties")
        if isinstance(props, dict) or node.get("type") == "object":
            where = f"Invalid schema for {label}: In context={path!r}, "
            if node.get("additionalProperties") is not False:
                raise WireError(
                    400,
                    where + "'additionalProperties' is required to be supplied and to be false.",
                    param,
                )
            missing = [k for k in props or {} if k not in (node.get("required") or [])]
            if missing:
                raise WireError(
                    400,
                    where + "'required' is required to be supplied and to be "
                    "an array including every key in properties. Missing "
                    f"'{missing[0]}'.",
                    param,
                )
        for key in ("properties", "$defs", "definitions"):
            if isinstance(node.get(key), dict):
                stack.extend((v, (*path, key, k)) for k, v in node[key].items())
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            if isinstance(node.get(key), list):
                stack.extend((v, (*path, key, str(i))) for i, v in enumerate(node[key]))
        if isinstance(node.get("items"), dict):
            stack.append((node["items"], (*path, "items")))


def _target(
    tools: list[dict[str, Any]], choice: Any, fmt: dict[str, Any], prompt: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The schema to answer and, in tools mode, the tool to call."""
    functions = {
        str(t["function"].get("name")): t["function"]
        for t in tools
        if isinstance(t.get("function"), dict)
    }
    if functions and choice != "none":
        name = next(iter(functions))
        if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            name = str(choice["function"].get("name"))
            if name not in functions:
                raise WireError(
                    400,
                    f"Invalid value for 'tool_choice': function '{name}' not found in 'tools'.",
                    "tool_choice",
                )
        params = functions[name].get("parameters")
        return (params if isinstance(params, dict) else {"type": "object"}), name
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return (schema if isinstance(schema, dict) else {"type": "object"}), None
    found = schema_from_text(prompt)
    if fmt.get("type") == "json_object":
        return found or {"type": "object"}, None
    return found, None


def render(call: Call, answer: Answer, cache: CacheUse = NO_CACHE) -> Any:
    """A chat.completion object carrying the answer text as tool arguments or as the content."""
    in_tokens, out_tokens, text = answer.input_tokens, answer.output_tokens, answer.text
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "annotations": [],
    }
    if call.tool_name is not None:
        message["tool_calls"] = [
            {
                "id": new_id("call_"),
                "type": "function",
                "function": {"name": call.tool_name, "arguments": text},
            }
        ]
        finish = "tool_calls"
    else:
        message["content"] = text
        finish = "stop"
    return {
        "id": new_id("chatcmpl-", 29),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "length" if answer.truncated else finish,
            }
        ],
        "usage": {
            "prompt_tokens": in_tokens,
            "completion_tokens": out_tokens,
            "total_tokens": in_tokens + out_tokens,
            "prompt_tokens_details": {"cached_tokens": cache.read, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_simulator",
    }


# OpenAI's error `type` and `code` for each status it uses.
ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", None),
}
ERROR_MESSAGES = {
    429: "Rate limit reached for requests (simulated). Please try again shortly.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
}


def error_body(status: int, message: str | None = None, param: str | None = None) -> Any:
    """OpenAI's error envelope: {"error": {message, type, param, code}}."""
    kind, code = ERROR_KINDS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    text = error_text(status, message, ERROR_MESSAGES)
    return {"error": {"message": text, "type": kind, "param": param, "code": code}}
