"""The flow-control Lua scripts: each is loaded behind the one shared time prelude.

A combined script (the call gate's) reuses the files as they are: `function` wraps some of
them as one local Lua function whose `KEYS` and `ARGV` parameters shadow the globals, so each
part reads its own slice, and `composed` puts them behind the prelude, before a main file.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

PRELUDE = "prelude_time"


def _read(name: str) -> str:
    return files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


@cache
def source(*names: str) -> str:
    """`prelude_time.lua` then the named `.lua` files of this package, as one script source."""
    return "".join(_read(n) for n in (PRELUDE, *names))


def function(name: str, *parts: str) -> str:
    """The named `.lua` files as the body of `local function name(KEYS, ARGV)`.

    A `return` of the files returns from the function; their locals stay inside it.
    """
    body = "".join(_read(p) for p in parts)
    return f"local function {name}(KEYS, ARGV)\n{body}\nend\n"


@cache
def composed(main: str, *functions: str) -> str:
    """The prelude, the given `function` sources, then `main.lua`: one script source."""
    return "".join((_read(PRELUDE), *functions, _read(main)))
