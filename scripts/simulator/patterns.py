"""Strings that match a JSON Schema `pattern`, built by walking the regex's parse tree."""

from __future__ import annotations

import importlib
import random
import re
import string
from typing import Any

# The stdlib's own regex parser; `sre_parse` is its deprecated alias, so load the real module.
_PARSER: Any = importlib.import_module("re._parser")
MAX_EXTRA_REPEATS = 3  # `+`, `*` and `{n,}` repeat at most this much past their minimum
_POOL = string.ascii_letters + string.digits + "_-. "
_CATEGORIES = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_NOT_DIGIT": string.ascii_letters,
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_NOT_WORD": "-. ",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": string.ascii_letters + string.digits,
}


class _UnsupportedError(Exception):
    """A regex construct this generator does not produce (backreferences, ...)."""


def sample_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string `pattern` matches (searched, as JSON Schema does), or None if none was made."""
    try:
        tree = _PARSER.parse(pattern)
        text = _emit(tree, rng)
    except (re.error, _UnsupportedError, RecursionError, ValueError, IndexError):
        return None
    return text if re.search(pattern, text) else None


def _emit(items: Any, rng: random.Random) -> str:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append(rng.choice(string.ascii_letters))
        elif name == "IN":
            out.append(_pick_in(arg, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            count = rng.randint(low, min(high, low + MAX_EXTRA_REPEATS))
            out.extend(_emit(sub, rng) for _ in range(count))
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            out.append(_emit(arg[-1], rng))
        elif name == "BRANCH":
            out.append(_emit(rng.choice(arg[1]), rng))
        elif name == "CATEGORY":
            out.append(rng.choice(_CATEGORIES.get(str(arg), "a")))
        elif name not in ("AT", "ASSERT", "ASSERT_NOT"):  # anchors and lookarounds emit nothing
            raise _UnsupportedError(name)
    return "".join(out)


def _pick_in(items: Any, rng: random.Random) -> str:
    """One character from a [...] set, or outside it when the set is negated."""
    allowed: list[str] = []
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            allowed.append(chr(arg))
        elif name == "RANGE":
            allowed.extend(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 200) + 1))
        elif name == "CATEGORY":
            allowed.extend(_CATEGORIES.get(str(arg), ""))
        else:
            raise _UnsupportedError(name)
    if negate:
        allowed = [c for c in _POOL if c not in set(allowed)]
    if not allowed:
        raise _UnsupportedError("empty character set")
    return rng.choice(allowed)
