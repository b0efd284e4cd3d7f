"""Rules over the whole schema graph: bounded $ref recursion and object nesting depth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from schemas.errors import SchemaInvalid
from schemas.extractors.check_rules import child_pointer
from schemas.extractors.check_walk import Walk
from schemas.extractors.limits import ExtractorLimits

__all__ = ["check_depth", "check_recursion"]

_UNBOUNDED = (
    "recursive $ref without a bound: every step of this cycle is required, so an answer "
    "would never end; make a property on it optional, let an array on it be empty "
    '(minItems 0) or add an anyOf branch without the cycle (e.g. {"type": "null"})'
)


def check_recursion(walk: Walk) -> None:
    """Refuse a $ref cycle no finite answer can satisfy, at the $ref that closes it."""
    terminable = _terminable(walk)
    starts: list[tuple[int, str | None]] = [(0, None), *((g, n) for n, g in walk.def_gates.items())]
    for gate, name in starts:
        if not terminable[gate]:
            raise SchemaInvalid(_blame(walk, terminable, gate, name), _UNBOUNDED)


def _terminable(walk: Walk) -> list[bool]:
    # Least fixpoint, as for the productive symbols of a grammar: a gate is true once a
    # finite instance exists (all parts of an AND, any branch of an OR), in linear time.
    count = len(walk.is_or)
    parents: list[list[int]] = [[] for _ in range(count)]
    for gate, children in enumerate(walk.children):
        for child in children:
            parents[child].append(gate)
    for gate, refs in enumerate(walk.refs):
        for name, _ in refs:
            parents[walk.def_gates[name]].append(gate)  # a def's body gate feeds its $refs
    remaining = [len(walk.children[g]) + len(walk.refs[g]) for g in range(count)]
    true = [not walk.is_or[g] and remaining[g] == 0 for g in range(count)]
    queue = [g for g in range(count) if true[g]]
    while queue:
        for parent in parents[queue.pop()]:
            if true[parent]:
                continue
            remaining[parent] -= 1
            if walk.is_or[parent] or remaining[parent] == 0:
                true[parent] = True
                queue.append(parent)
    return true


def _blame(walk: Walk, terminable: list[bool], gate: int, name: str | None) -> str:
    # Follow parts that cannot end until a $ref returns to a definition already entered.
    seen = {name} if name is not None else set()
    while True:
        if walk.is_or[gate]:
            gate = walk.children[gate][0]  # every branch is unbounded
            continue
        child = next((c for c in walk.children[gate] if not terminable[c]), None)
        if child is not None:
            gate = child
            continue
        target, pointer = next(
            (n, p) for n, p in walk.refs[gate] if not terminable[walk.def_gates[n]]
        )
        if target in seen:
            return pointer
        seen.add(target)
        gate = walk.def_gates[target]


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return None
    return ref.removeprefix("#/$defs/").replace("~1", "/").replace("~0", "~")


def _subschemas(node: dict[str, Any], pointer: str) -> Iterator[tuple[bool, str, dict[str, Any]]]:
    # (is a property, pointer, subschema) for every subschema but $defs entries.
    properties = node.get("properties")
    if isinstance(properties, dict):
        at = child_pointer(pointer, "properties")
        yield from ((True, child_pointer(at, name), child) for name, child in properties.items())
    items = node.get("items")
    if isinstance(items, dict):
        yield False, child_pointer(pointer, "items"), items
    for index, branch in enumerate(node.get("anyOf", ())):
        yield False, child_pointer(child_pointer(pointer, "anyOf"), str(index)), branch


class _Heights:
    """Object nesting below each node, bottom-up and iterative; a recursive $ref counts 0."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = root.get("$defs", {})
        self.of: dict[int, int] = {}  # id(node) -> height
        self.via_ref: dict[int, int] = {}  # id(node) -> what its $ref contributed
        self.of_def: dict[str, int] = {}
        active: set[str] = set()
        stack: list[tuple[dict[str, Any], str | None, bool]] = [(root, None, False)]
        while stack:
            node, name, done = stack.pop()
            target = _ref_name(node)
            if done:
                self.finish(node, name, target)
                active.discard(name or "")
                continue
            if name is not None:
                if name in self.of_def or name in active:
                    continue  # computed already, or a cycle back into it
                active.add(name)
            stack.append((node, name, True))
            stack.extend((child, None, False) for _, _, child in _subschemas(node, ""))
            if target is not None and target not in self.of_def and target not in active:
                stack.append((self.defs[target], target, False))

    def own(self, node: dict[str, Any]) -> int:
        """1 + the deepest property for an object, else 0."""
        properties = node.get("properties")
        if not isinstance(properties, dict):
            return 0
        return 1 + max((self.of[id(child)] for child in properties.values()), default=0)

    def finish(self, node: dict[str, Any], name: str | None, target: str | None) -> None:
        height = self.own(node)
        for is_property, _, child in _subschemas(node, ""):
            if not is_property:
                height = max(height, self.of[id(child)])  # arrays and unions are transparent
        # A $ref to a definition still being computed closes a cycle: expand it only once.
        self.via_ref[id(node)] = self.of_def.get(target, 0) if target is not None else 0
        self.of[id(node)] = height = max(height, self.via_ref[id(node)])
        if name is not None:
            self.of_def[name] = height


def check_depth(root: dict[str, Any], limits: ExtractorLimits) -> None:
    """Refuse objects nested deeper than max_depth, at the first object past the limit."""
    heights = _Heights(root)
    node, pointer, budget = root, "", limits.max_depth
    if heights.of[id(root)] <= budget:
        return
    # Walk down the deepest path. It is simple (a recursive $ref counts 0, so it is never
    # taken); the bound only guards against dicts a Python caller shared between places.
    for _ in range(len(heights.of) + 1):
        height = heights.of[id(node)]
        is_object = "properties" in node and heights.own(node) == height
        if is_object:
            if budget == 0:
                break
            budget -= 1
            height -= 1
        step = next(
            (
                (at, child)
                for is_property, at, child in _subschemas(node, pointer)
                if is_property == is_object and heights.of[id(child)] >= height
            ),
            None,
        )
        target = _ref_name(node)
        if step is None and target is not None and heights.via_ref[id(node)] >= height > 0:
            step = child_pointer("/$defs", target), heights.defs[target]
        if step is None:
            break
        pointer, node = step
    raise SchemaInvalid(
        pointer,
        f"this object is nested deeper than {limits.max_depth} object levels "
        f"(the limit {limits.key('max_depth')})",
    )
