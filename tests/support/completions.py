"""An OpenAI chat completion that calls the request's tool: an in-memory provider's answer."""

from __future__ import annotations

import json
from typing import Any


def tool_completion(body: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """The completion answering `body` (a chat request with tools) with these arguments."""
    tool = body["tools"][0]["function"]["name"]
    function = {"name": tool, "arguments": json.dumps(arguments)}
    call = {"id": "call_1", "type": "function", "function": function}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
