"""Refuse $ref cycles that never descend into the answer: validating them would never end."""

from __future__ import annotations

from typing import Any

from schemas.errors import SchemaInvalid
from schemas.extractors.check_rules import child_pointer

__all__ = ["check_descent"]

_LOOP = (
    "recursive $ref that never descends: this cycle returns to its definition through anyOf "
    "or $ref alone, without entering a property or an array item, so validating any answer "
    "would loop forever; put the recursion under `properties` or `items`"
)


def _shallow_refs(node: Any, pointer: str) -> list[tuple[str, str]]:
    """The $refs reachable from `node` without entering `properties` or `items`."""
    found: list[tuple[str, str]] = []
    stack = [(node, pointer)]
    while stack:
        current, at = stack.pop()
        if not isinstance(current, dict):
            continue
        ref = current.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/").replace("~1", "/").replace("~0", "~")
            found.append((name, child_pointer(at, "$ref")))
        for index, branch in enumerate(current.get("anyOf", ())):
            stack.append((branch, child_pointer(child_pointer(at, "anyOf"), str(index))))
    return found


def check_descent(schema: dict[str, Any]) -> None:
    """Raise SchemaInvalid at the $ref closing a cycle of definitions that never descends."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return
    edges = {
        name: _shallow_refs(body, child_pointer("/$defs", name)) for name, body in defs.items()
    }
    done: set[str] = set()
    for start, refs in edges.items():
        if start in done:
            continue
        # Iterative depth-first search; a $ref back into the current path is the loop.
        path: list[str] = [start]
        on_path = {start}
        pending = [iter(refs)]
        while pending:
            step = next(pending[-1], None)
            if step is None:
                pending.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
                continue
            target, pointer = step
            if target in on_path:
                raise SchemaInvalid(pointer, _LOOP)
            if target in done or target not in edges:
                continue
            path.append(target)
            on_path.add(target)
            pending.append(iter(edges[target]))
