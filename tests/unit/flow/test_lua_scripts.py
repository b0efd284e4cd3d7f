"""The Lua script loader: every script runs behind the one shared time prelude."""

from __future__ import annotations

from importlib.resources import files

from tasks.flow.lua import PRELUDE, source

SCRIPTS = sorted(
    p.name.removesuffix(".lua")
    for p in files("tasks.flow.lua").iterdir()
    if p.name.endswith(".lua") and p.name != f"{PRELUDE}.lua"
)


def test_only_the_prelude_reads_the_redis_clock() -> None:
    assert SCRIPTS
    for name in SCRIPTS:
        assert (
            "redis.call('TIME')" not in files("tasks.flow.lua").joinpath(f"{name}.lua").read_text()
        )


def test_a_loaded_script_is_the_prelude_then_its_parts_in_order() -> None:
    prelude = files("tasks.flow.lua").joinpath(f"{PRELUDE}.lua").read_text()
    loaded = source("semaphore_reap", "semaphore_acquire")
    assert loaded.startswith(prelude)
    assert loaded.count("redis.call('TIME')") == 1
    assert loaded.index("local function wake") < loaded.index("local fence")
