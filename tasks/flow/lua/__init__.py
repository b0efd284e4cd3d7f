"""The flow-control Lua scripts: each is loaded behind the one shared time prelude."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

PRELUDE = "prelude_time"


@cache
def source(*names: str) -> str:
    """`prelude_time.lua` then the named `.lua` files of this package, as one script source."""
    folder = files(__name__)
    return "".join(
        folder.joinpath(f"{n}.lua").read_text(encoding="utf-8") for n in (PRELUDE, *names)
    )
