"""The providers' prompt caches, simulated: cached tokens for a repeated prompt prefix.

What is cacheable, per wire format (the prefix is counted with tokens.py's formula, so it
never exceeds the request's input tokens):
- OpenAI caches automatically. The stable prefix is every tool definition and the
  response_format schema (the API renders them at the start of the prompt), then the
  leading run of system/developer messages: all messages before the first one of another
  role. A request whose prefix was seen before, for the same model, reports that prefix's
  tokens rounded down to a multiple of 128 as `prompt_tokens_details.cached_tokens`, if
  the prefix is at least 1024 tokens. (The real API matches any common prefix; matching
  only this one under-reports a re-ask, never over-reports.)
- Anthropic caches only up to a block marked `cache_control`, in the API's order: tools,
  then system blocks, then message content blocks. Each marked block ends one cache point.
  The longest cache point seen before is read (`cache_read_input_tokens`); the rest up to
  the last point is written (`cache_creation_input_tokens`); `input_tokens` counts only
  what follows. A point shorter than 1024 tokens (2048 for haiku models) is never cached.
The cache is a bounded LRU keyed by (model, sha-256 of the prefix); an entry lives five
minutes from its last use, as both APIs' default caches do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scripts.simulator.calls import Call, content_texts
from scripts.simulator.tokens import schema_chars, tokens_for

TTL_S = 300.0
MAX_ENTRIES = 50_000
OPENAI_MINIMUM = 1024
OPENAI_STEP = 128  # OpenAI reports cache hits in increments of 128 tokens
ANTHROPIC_MINIMUM = 1024
ANTHROPIC_HAIKU_MINIMUM = 2048


@dataclass(frozen=True)
class Mark:
    """One cache point: the sha-256 of the prompt up to it, and its tokens."""

    digest: str
    tokens: int


@dataclass(frozen=True)
class Prefix:
    """A request's cache points in prompt order, and its provider's caching rules."""

    marks: tuple[Mark, ...]
    minimum: int  # a shorter prefix is never cached
    step: int = 1  # cached tokens are reported rounded down to a multiple of this


@dataclass(frozen=True)
class CacheUse:
    """What one request read from the cache and wrote to it, in tokens."""

    read: int = 0
    written: int = 0


NO_CACHE = CacheUse()


@dataclass
class PrefixedCall(Call):
    """A Call that knows its cacheable prefix."""

    prefix: Prefix | None = None


def with_prefix(call: Call, prefix: Prefix) -> PrefixedCall:
    """`call`, carrying `prefix`."""
    fields = {f.name: getattr(call, f.name) for f in dataclasses.fields(Call)}
    return PrefixedCall(**fields, prefix=prefix)


class _Walk:
    """The prompt read in order: a running hash and counts, and a mark at each cache point."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.text_chars = 0
        self.schema_chars = 0
        self.marks: list[Mark] = []

    def texts(self, pieces: list[str]) -> None:
        for piece in pieces:
            self.hash.update(json.dumps(["text", piece], ensure_ascii=False).encode())
            self.text_chars += len(piece)

    def schema(self, obj: Any) -> None:
        if obj is None:
            return
        self.hash.update(json.dumps(["schema", obj], ensure_ascii=False).encode())
        self.schema_chars += schema_chars(obj)

    def mark(self) -> None:
        tokens = tokens_for(self.text_chars, self.schema_chars)
        self.marks.append(Mark(self.hash.copy().hexdigest(), tokens))


def openai_prefix(schema_objs: list[Any], messages: list[dict[str, Any]]) -> Prefix:
    """The stable prefix of a chat.completions request: tools and schema, leading system text."""
    walk = _Walk()
    for obj in schema_objs:
        walk.schema(obj)
    for msg in messages:
        if msg.get("role") not in ("system", "developer"):
            break
        walk.texts(content_texts(msg.get("content")))
    walk.mark()
    return Prefix(tuple(walk.marks), OPENAI_MINIMUM, OPENAI_STEP)


def _marked(block: Any) -> bool:
    return isinstance(block, dict) and isinstance(block.get("cache_control"), dict)


def anthropic_prefix(
    model: str, tools: list[dict[str, Any]], system: Any, messages: list[dict[str, Any]]
) -> Prefix:
    """The cache points of a /v1/messages request: each block marked `cache_control`."""
    walk = _Walk()
    for tool in tools:
        walk.schema(tool)
        if _marked(tool):
            walk.mark()
    for content in [system, *(m.get("content") for m in messages)]:
        for block in content if isinstance(content, list) else [content]:
            walk.texts(content_texts([block]))
            if _marked(block):
                walk.mark()
    minimum = ANTHROPIC_HAIKU_MINIMUM if "haiku" in model else ANTHROPIC_MINIMUM
    return Prefix(tuple(walk.marks), minimum)


class PrefixCache:
    """The prefixes seen lately: a bounded LRU whose entries expire TTL_S after last use."""

    def __init__(
        self,
        ttl_s: float = TTL_S,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.max_entries, self.clock = ttl_s, max_entries, clock
        self._expires: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()  # batch settling and requests may interleave

    def use(self, call: Call) -> CacheUse:
        """Look the call's prefix up, then remember it: what the call read and wrote."""
        prefix = call.prefix if isinstance(call, PrefixedCall) else None
        marks = [m for m in prefix.marks if m.tokens >= prefix.minimum] if prefix else []
        if prefix is None or not marks:
            return NO_CACHE
        now = self.clock()
        hit = 0
        with self._lock:
            self._drop_expired(now)
            for mark in marks:
                key = (call.model, mark.digest)
                if key in self._expires:
                    hit = max(hit, mark.tokens)
                self._expires[key] = now + self.ttl_s
                self._expires.move_to_end(key)
            while len(self._expires) > self.max_entries:
                self._expires.popitem(last=False)
        read = hit - hit % prefix.step
        return CacheUse(read=read, written=marks[-1].tokens - hit)

    def _drop_expired(self, now: float) -> None:
        # Entries sit in last-use order, so the expired ones are all at the front.
        while self._expires:
            key, expires = next(iter(self._expires.items()))
            if expires > now:
                return
            del self._expires[key]

    def clear(self) -> None:
        """Forget every prefix (POST /sim/reset)."""
        with self._lock:
            self._expires.clear()

    def __len__(self) -> int:
        return len(self._expires)


def cached_in(payload: Any) -> int:
    """The cache-read tokens a rendered answer reports (OpenAI's or Anthropic's field)."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return 0
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict):
        return int(details.get("cached_tokens") or 0)
    return int(usage.get("cache_read_input_tokens") or 0)
