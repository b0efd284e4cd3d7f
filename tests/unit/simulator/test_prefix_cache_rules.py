"""The prefix cache's rules as logic: what the prefix is, its TTL, its LRU bound, its keys."""

from __future__ import annotations

from typing import Any

from scripts.simulator import anthropic_wire, openai_wire
from scripts.simulator.prefix_cache import CacheUse, PrefixCache
from scripts.simulator.tokens import input_tokens

LONG = "x" * 6000  # 1500 tokens


class Clock:
    """A hand-moved clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def chat(system: str, doc: str = "doc", model: str = "gpt-sim") -> Any:
    """A parsed chat.completions call: a system prompt, then a document."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": doc}]
    return openai_wire.parse({"model": model, "messages": messages})


def test_an_entry_lives_five_minutes_from_its_last_use() -> None:
    clock = Clock()
    cache = PrefixCache(clock=clock)
    assert cache.use(chat(LONG)).read == 0
    clock.now += 200
    assert cache.use(chat(LONG)).read == 1408  # 1500 rounded down to 128s; the TTL restarts
    clock.now += 299
    assert cache.use(chat(LONG)).read == 1408
    clock.now += 301
    assert cache.use(chat(LONG)).read == 0  # expired
    assert len(cache) == 1  # and replaced, not kept twice


def test_the_least_recently_used_prefix_goes_first_when_the_cache_is_full() -> None:
    cache = PrefixCache(max_entries=2)
    for text in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        cache.use(chat(LONG + text))
    assert len(cache) == 2
    assert cache.use(chat(LONG + "a")).read > 0
    assert cache.use(chat(LONG + "c")).read > 0
    assert cache.use(chat(LONG + "b")).read == 0


def test_the_openai_prefix_is_the_leading_system_messages_only() -> None:
    cache = PrefixCache()
    cache.use(chat(LONG, doc="first document"))
    assert cache.use(chat(LONG, doc="second document")).read == 1408
    late_system = openai_wire.parse(
        {
            "model": "gpt-sim",
            "messages": [
                {"role": "user", "content": "doc"},
                {"role": "system", "content": LONG},
            ],
        }
    )
    assert cache.use(late_system) == CacheUse()  # no leading system text: nothing to cache


def test_the_anthropic_read_is_the_longest_cached_mark_and_the_rest_is_written() -> None:
    def call(second: str) -> Any:
        blocks: list[dict[str, Any]] = [
            {"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": second, "cache_control": {"type": "ephemeral"}},
        ]
        body = {
            "model": "claude-sim-sonnet",
            "max_tokens": 16,
            "system": blocks,
            "messages": [{"role": "user", "content": "doc"}],
        }
        return anthropic_wire.parse(body)

    cache = PrefixCache()
    first = call("y" * 4000)
    assert cache.use(first) == CacheUse(read=0, written=2500)
    assert cache.use(call("z" * 4000)) == CacheUse(read=1500, written=1000)
    assert cache.use(first) == CacheUse(read=2500, written=0)
    assert input_tokens(first.texts, first.schema_objs) >= 2500  # the prefix fits the prompt
