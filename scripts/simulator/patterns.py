"""Strings that match a JSON Schema `pattern` (RE2 syntax), built by walking its parse tree.

The stdlib's parser reads the pattern once RE2-only syntax is rewritten (\\p{..}, [[:alpha:]],
\\Q..\\E, \\x{..}, \\z, (?<n>..)); RE2, as docqueue runs it, has the last word on each string.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import random
import re
import string
import warnings
from functools import lru_cache
from typing import Any

from schemas.extractors.patterns import PatternRefused, compile_pattern
from schemas.extractors.patterns import search as re2_search

# The stdlib's own regex parser; `sre_parse` is its deprecated alias, so load the real module.
_PARSER: Any = importlib.import_module("re._parser")
MAX_EXTRA_REPEATS = 3  # `+`, `*` and `{n,}` repeat at most this much past what lengths need
TRIES = 12  # draws per request: repeats and branches are random, so a few usually fit
_UNBOUNDED = 1 << 40
_POOL = string.ascii_letters + string.digits + "_-. "
_ALNUM = string.ascii_letters + string.digits
_CATEGORIES = {"CATEGORY_DIGIT": string.digits, "CATEGORY_NOT_DIGIT": string.ascii_letters}
_CATEGORIES |= {"CATEGORY_WORD": _ALNUM + "_", "CATEGORY_NOT_WORD": "-. "}
_CATEGORIES |= {"CATEGORY_SPACE": " ", "CATEGORY_NOT_SPACE": _ALNUM}
_CHAR_OPS = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN"})
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_ZERO_WIDTH = frozenset({"AT", "ASSERT", "ASSERT_NOT"})  # anchors (lookarounds: RE2 refuses)
# Where members of a Unicode or POSIX class are looked for: ASCII first, then common scripts.
_SCAN_RANGES = (  # control characters last: only a class of nothing else gets them
    *((0x20, 0x7F), (0xA0, 0x250), (0x370, 0x500), (0x5D0, 0x5EB), (0x600, 0x670)),
    *((0x900, 0x980), (0x2000, 0x2150), (0x3040, 0x3100), (0x4E00, 0x4E80), (0xAC00, 0xAC40)),
    *((0x1F600, 0x1F650), (0x09, 0x0E)),
)
_MAX_MEMBERS = 64
_PARSE_ERRORS = (re.error, RecursionError, OverflowError, ValueError)
_FLAG_GROUP = re.compile(r"\(\?([imsU-]*)([:)])")


class _UnsupportedError(Exception):
    """A regex construct this generator does not produce (backreferences, ...)."""


def matches(pattern: str, text: str, *, python_too: bool = False) -> bool:
    """JSON Schema `pattern` semantics under RE2 (Python `re` for patterns RE2 refuses).

    With `python_too`, Python `re` must agree wherever it reads the pattern as well.
    """
    try:
        ok = re2_search(pattern, text)
    except PatternRefused:
        ok = None  # not a pattern docqueue accepts: let Python `re` judge alone
    python = _parsed(pattern)[0]
    if python is not None and (ok is None or (ok and python_too)):
        ok = python.search(text) is not None
    return True if ok is None else ok  # a pattern neither engine reads: nothing to honour


def sample_pattern(
    pattern: str,
    rng: random.Random,
    lengths: tuple[int, int] = (0, _UNBOUNDED),
    *,
    python_too: bool = False,
) -> str | None:
    """A string `pattern` matches with a length in `lengths`, or None if none was made."""
    tree = _parsed(pattern)[1]
    if tree is None:
        return None
    min_len, high = lengths
    emitter = _Emitter(rng)
    for _ in range(TRIES):
        try:
            text = emitter.seq(tree, min_len, high)
        except (_UnsupportedError, RecursionError, ValueError, IndexError):
            return None
        if min_len <= len(text) <= high and matches(pattern, text, python_too=python_too):
            return text
    return None


@lru_cache(maxsize=1024)
def _parsed(pattern: str) -> tuple[re.Pattern[str] | None, Any]:
    """Python's reading of the pattern (None if it has none) and the tree to walk (or None)."""
    python = tree = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible nested set" and friends: not our concern
        with contextlib.suppress(*_PARSE_ERRORS):
            python = re.compile(pattern)
        with contextlib.suppress(*_PARSE_ERRORS, _UnsupportedError):
            tree = _PARSER.parse(to_python_syntax(pattern))
    return python, tree


def to_python_syntax(pattern: str) -> str:
    """The pattern with RE2-only syntax rewritten so Python's parser reads the same language."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            token, i = _escape(pattern, i, in_set=False)
        elif char == "[":
            token, i = _char_set(pattern, i)
        elif char == "(" and pattern.startswith("(?", i):
            token, i = _group(pattern, i)
        elif char == "{" and pattern.startswith("{,", i):
            token, i = "\\{", i + 1  # RE2 reads `{,n}` as literal text, Python as a repeat
        else:
            token, i = char, i + 1
        out.append(token)
    return "".join(out)


def _escape(pattern: str, i: int, *, in_set: bool) -> tuple[str, int]:
    """One backslash escape at `i`: its Python spelling and the index after it."""
    code = pattern[i + 1 : i + 2]
    if code == "Q":  # \Q...\E quotes literal text
        text = pattern[i + 2 :].partition("\\E")[0]
        return "".join(map(re.escape, text)), min(len(pattern), i + 4 + len(text))
    if code in ("p", "P"):
        end = pattern.index("}", i) + 1 if pattern[i + 2 : i + 3] == "{" else i + 3
        return _class_of(pattern[i:end], in_set=in_set), end
    if code == "x" and pattern[i + 2 : i + 3] == "{":
        end = pattern.index("}", i)  # unterminated: ValueError, the pattern is not walked
        return re.escape(chr(int(pattern[i + 3 : end], 16))), end + 1
    return {"z": "\\Z", "C": "."}.get(code, pattern[i : i + 2]), i + 2


def _char_set(pattern: str, i: int) -> tuple[str, int]:
    """A [...] set at `i`, POSIX classes and RE2 escapes inside it spelled out."""
    out = ["["]
    j = i + 1
    if pattern[j : j + 1] == "^":
        out.append("^")
        j += 1
    first = True
    while j < len(pattern):
        char = pattern[j]
        if char == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        first = False
        if char == "\\":
            token, j = _escape(pattern, j, in_set=True)
        elif char == "[" and pattern.startswith("[:", j) and ":]" in pattern[j:]:
            end = pattern.index(":]", j) + 2
            token, j = _class_of(pattern[j:end], in_set=True), end
        elif char in "[&~|":
            token, j = "\\" + char, j + 1  # Python warns on, and may one day nest, these
        else:
            token, j = char, j + 1
        out.append(token)
    raise _UnsupportedError("unterminated character set")


def _group(pattern: str, i: int) -> tuple[str, int]:
    """A `(?` opening: named groups in Python spelling, inline flags dropped (see below)."""
    if pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
        return "(?P<", i + 3
    flags = _FLAG_GROUP.match(pattern, i)
    if flags is None:
        return "(?", i + 2
    # Flags change what matches, not what is emitted, and RE2 checks every string at the end.
    return ("(?:" if flags.group(2) == ":" else ""), flags.end()


@lru_cache(maxsize=256)
def _members(cls: str) -> str:
    """Characters of one RE2 class (\\pL, [:alpha:], ...), ASCII first, found by asking RE2."""
    try:
        program = compile_pattern(f"[{cls}]")
    except PatternRefused as exc:
        raise _UnsupportedError(cls) from exc
    chars = (chr(c) for first, stop in _SCAN_RANGES for c in range(first, stop))
    return "".join(itertools.islice(filter(program.search, chars), _MAX_MEMBERS))


def _class_of(cls: str, *, in_set: bool) -> str:
    if not (members := _members(cls)):
        raise _UnsupportedError(f"no character found for {cls}")
    body = "".join(map(re.escape, members))
    return body if in_set else f"[{body}]"


def _span(items: Any) -> tuple[int, int]:
    """Shortest and longest match of a sequence (longest capped at _UNBOUNDED)."""
    low = high = 0
    for op, arg in items:
        a, b = _node_span(str(op), arg)
        low, high = low + a, min(_UNBOUNDED, high + b)
    return low, high


def _node_span(name: str, arg: Any) -> tuple[int, int]:
    if name in _CHAR_OPS:
        return 1, 1
    if name in _REPEATS:
        low, high, sub = arg
        a, b = _span(sub)
        top = _UNBOUNDED if high >= _PARSER.MAXREPEAT else high
        return low * a, min(_UNBOUNDED, top * b)
    if name in ("SUBPATTERN", "ATOMIC_GROUP"):
        return _span(arg[-1])
    if name == "BRANCH":
        spans = [_span(alt) for alt in arg[1]]
        return min(s[0] for s in spans), max(s[1] for s in spans)
    if name in _ZERO_WIDTH:
        return 0, 0
    raise _UnsupportedError(name)


class _Emitter:
    """Emits one string for a tree, steering repeats so the length lands in a given range."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def seq(self, items: Any, low: int, high: int) -> str:
        """A sequence: each item takes what the items after it cannot supply."""
        items = list(items)
        spans = [_node_span(str(op), arg) for op, arg in items]
        rest = [(0, 0)] * (len(items) + 1)
        for k in range(len(items) - 1, -1, -1):
            after = rest[k + 1]
            rest[k] = (after[0] + spans[k][0], min(_UNBOUNDED, after[1] + spans[k][1]))
        out: list[str] = []
        used = 0
        for k, (op, arg) in enumerate(items):
            lo = min(max(spans[k][0], low - used - rest[k + 1][1]), spans[k][1])
            hi = max(lo, min(spans[k][1], high - used - rest[k + 1][0]))
            piece = self.node(str(op), arg, lo, hi)
            out.append(piece)
            used += len(piece)
        return "".join(out)

    def node(self, name: str, arg: Any, low: int, high: int) -> str:
        """One parse-tree node, `low`..`high` characters long where it can be."""
        if name == "LITERAL":
            return chr(arg)
        if name == "NOT_LITERAL":
            return self.rng.choice([c for c in _POOL if c.lower() != chr(arg).lower()])
        if name == "ANY":
            return self.rng.choice(string.ascii_letters)
        if name == "IN":
            return _pick_in(arg, self.rng)
        if name in _REPEATS:
            return self.repeat(arg, low, high)
        if name in ("SUBPATTERN", "ATOMIC_GROUP"):
            return self.seq(arg[-1], low, high)
        if name == "BRANCH":
            fitting = [alt for alt in arg[1] if (sp := _span(alt))[0] <= high and sp[1] >= low]
            return self.seq(self.rng.choice(fitting or list(arg[1])), low, high)
        if name in _ZERO_WIDTH:
            return ""
        raise _UnsupportedError(name)

    def repeat(self, arg: Any, low: int, high: int) -> str:
        """A repeat count the lengths allow, a few more than needed at most."""
        least, most, sub = arg
        top = _UNBOUNDED if most >= _PARSER.MAXREPEAT else most
        a, b = _span(sub)
        count_lo = min(max(least, -(-low // b) if b else least), top)
        count_hi = max(count_lo, min(top, high // a if a else top))
        count = self.rng.randint(count_lo, min(count_hi, count_lo + MAX_EXTRA_REPEATS))
        return self.seq(list(sub) * count, low, high)  # the copies share out the lengths


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
            # Where a range covers printable ASCII, only those: no control characters.
            first, last = (max(arg[0], 0x21), min(arg[1], 0x7E))
            first, last = (first, last) if first <= last else arg
            allowed.extend(chr(c) for c in range(first, min(last, first + 200) + 1))
        elif name == "CATEGORY":
            allowed.extend(_CATEGORIES.get(str(arg), ""))
        else:
            raise _UnsupportedError(name)
    if negate:
        # Both cases are left out, so a case-insensitive negated set is honoured too.
        banned = {c.lower() for c in allowed} | {c.upper() for c in allowed}
        allowed = [c for c in _POOL if c not in banned]
    if not allowed:
        raise _UnsupportedError("empty character set")
    return rng.choice(allowed)
