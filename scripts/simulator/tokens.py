"""Deterministic token counts, so tests can compare a worker's ledger to the simulator's."""

from __future__ import annotations

import json
from typing import Any


def count_chars(chars: int) -> int:
    """Tokens for a text of `chars` characters: about four characters a token, at least one."""
    return max(1, round(chars / 4))


def schema_chars(obj: Any) -> int:
    """Length of the canonical JSON of a tool or schema definition (key order kept)."""
    if obj is None:
        return 0
    # Compact separators and no key sorting: the same request always yields the same length.
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


def tokens_for(text_chars: int, json_chars: int) -> int:
    """Input tokens for so much message text and tool or schema JSON (a prompt or its prefix)."""
    # Both terms only grow with their argument: a prefix never counts more than its prompt.
    return count_chars(text_chars) + (round(json_chars / 4) if json_chars else 0)


def input_tokens(texts: list[str], schema_objs: list[Any]) -> int:
    """Input tokens: all message text, plus the JSON of every tool or response schema."""
    return tokens_for(sum(len(t) for t in texts), sum(schema_chars(o) for o in schema_objs))


def output_tokens(answer_text: str) -> int:
    """Output tokens for the answer as sent (the JSON string of the tool input or content)."""
    return count_chars(len(answer_text))
