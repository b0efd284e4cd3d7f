"""Answers to the evidence envelope ({document_fit, data, evidence}) of a grounded model.

`data` is generated as for any schema, then grounded in the document (grounding.py), made
to satisfy the cross-field rules (settle.py) and, at the requested rate, hallucinated
(hallucinate.py). Every grounded leaf gets one evidence entry quoting the document as sent.

Directives: [[sim:mismatch]] makes `document_fit.fits` false; [[sim:hallucinate=RATE]]
sets the hallucination rate (else the server-wide DOCQUEUE_SIM_HALLUCINATE). "Independent
sample N." in the prompt (outside the document) makes this sample N of a self-consistency
check: its hallucinations are drawn apart from sample 1's.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from scripts.simulator.answers import build_answer, make_invalid, schema_resolver
from scripts.simulator.faults import parse_directives
from scripts.simulator.formats import answer_checker
from scripts.simulator.grounding import Found, Grounder, pointer
from scripts.simulator.hallucinate import hallucinate
from scripts.simulator.labels import DocIndex, document_text
from scripts.simulator.settle import settle

FIT, DATA, EVIDENCE = "document_fit", "data", "evidence"
ENVELOPE_KEYS = frozenset({FIT, DATA, EVIDENCE})
REGROUND_TRIES = 3
# The engine's note on a chunk's prompt (schemas/extraction/prompts.py CHUNK_NOTE).
PART_NOTE = "of a longer document; the other parts are processed"
MAX_REASON = 300
_SAMPLE_RE = re.compile(r"Independent sample (\d+)\.")
_DOCUMENT_BLOCK = re.compile(r"<document(?:\s[^>]*)?>.*?</document>", re.DOTALL | re.IGNORECASE)

__all__ = ["build_envelope", "is_envelope", "sample_number"]


def is_envelope(schema: Any) -> bool:
    """Whether a tool schema is the evidence envelope (its properties include all three)."""
    if not isinstance(schema, dict):
        return False
    props = schema_resolver(schema)(schema).get("properties")
    return isinstance(props, dict) and ENVELOPE_KEYS.issubset(props)


def sample_number(prompt: str) -> int:
    """The self-consistency sample the prompt asks for (1 when it names none)."""
    match = _SAMPLE_RE.search(_DOCUMENT_BLOCK.sub(" ", prompt))
    return max(1, int(match.group(1))) if match else 1


def build_envelope(
    schema: dict[str, Any],
    user_text: str,
    prompt: str = "",
    seed: int = 0,
    default_rate: float = 0.0,
) -> dict[str, Any]:
    """The envelope answer for the document in `user_text`.

    `prompt` is all the request's non-model text (system prompt included): directives and
    the sample number are read there and in `user_text`; `default_rate` is the server-wide
    hallucination rate, which a document's [[sim:hallucinate=RATE]] overrides.
    """
    resolve = schema_resolver(schema)
    props = resolve(schema).get("properties") or {}
    answer = build_answer(schema, user_text, seed)
    generated = answer.get(DATA) if isinstance(answer, dict) else None
    text = document_text(user_text)
    directives = parse_directives(f"{prompt}\n{user_text}")
    checker = answer_checker(schema)
    part = PART_NOTE in prompt or PART_NOTE in user_text
    data, found, bound = _grounded(
        schema, props.get(DATA), generated, DocIndex(text), answer, part=part
    )
    fit = _fit(resolve, props, len(found), mismatch=directives.mismatch)
    shape: dict[str, Any] = {"props": props, "resolve": resolve}
    honest = _envelope(answer, fit, copy.deepcopy(data), found, **shape)
    rate = directives.hallucinate if directives.hallucinate is not None else default_rate
    grounder = Grounder(schema, DocIndex(""), frozenset())
    hallucinate(
        data,
        found,
        rate=rate,
        sample=sample_number(f"{prompt}\n{user_text}"),
        text=text,
        bound=bound,
        valid=grounder.valid,
        resolve=resolve,
    )
    out = _envelope(answer, fit, data, found, **shape)
    if checker.is_valid(out):
        return out
    if checker.is_valid(honest):
        return honest  # a hallucination broke a rule the leaf schemas do not show
    return _envelope(answer, fit, generated, {}, **shape)


def _grounded(
    schema: dict[str, Any],
    data_schema: Any,
    generated: Any,
    index: DocIndex,
    answer: Any,
    *,
    part: bool = False,
) -> tuple[Any, dict[str, Found], set[str]]:
    """Grounded, settled data; subtrees that fail validation fall back to generated values."""
    checker = answer_checker(schema)
    skip: set[str] = set()
    for _ in range(REGROUND_TRIES):
        grounder = Grounder(schema, index, frozenset(skip), part=part)
        data = grounder.node(data_schema, copy.deepcopy(generated))
        bound = settle(data, grounder.found)
        errors = list(checker.iter_errors({**answer, DATA: data, EVIDENCE: []}))
        paths = [list(e.absolute_path) for e in errors]
        if not paths:
            return data, grounder.found, bound
        if any(not p or p[0] != DATA or len(p) == 1 for p in paths):
            break  # the whole of `data` is at fault: nothing narrower to fall back on
        skip |= {pointer(tuple(p[1:])) for p in paths}
    return generated, {}, set()


def _title(resolve: Any, props: dict[str, Any]) -> str:
    data = resolve(props.get(DATA) or {})
    title = data.get("title")
    return str(title)[:100] if title else "document of the kind the schema describes"


def _fit(resolve: Any, props: dict[str, Any], stated: int, *, mismatch: bool) -> dict[str, Any]:
    """document_fit: fits unless the document carries [[sim:mismatch]]."""
    title = _title(resolve, props)
    article = "an" if title[:1].lower() in "aeiou" else "a"
    if mismatch:
        return {"fits": False, "reason": f"the document is not {article} {title}"}
    reason = f"The document is {article} {title}; it states {stated} of the fields."
    return {"fits": True, "reason": reason[:MAX_REASON]}


def _envelope(
    answer: Any,
    fit: dict[str, Any],
    data: Any,
    found: dict[str, Found],
    *,
    props: dict[str, Any],
    resolve: Any,
) -> dict[str, Any]:
    """The envelope around `data`: one evidence entry per grounded leaf, within maxItems."""
    limit = resolve(props.get(EVIDENCE) or {}).get("maxItems")
    quotes = [{"path": path, "quote": leaf.quote} for path, leaf in found.items()]
    if isinstance(limit, int):
        quotes = quotes[:limit]
    base = answer if isinstance(answer, dict) else {}
    return {**base, FIT: fit, DATA: data, EVIDENCE: quotes}


def invalid_answer(answer: Any, schema: dict[str, Any]) -> Any:
    """An envelope whose `data` fails validation (the envelope itself forgives slips)."""
    if not isinstance(answer, dict) or not isinstance(answer.get(DATA), dict):
        return make_invalid(answer, schema)
    data_schema = (schema.get("properties") or {}).get(DATA) or {}
    scoped = {**data_schema, "$defs": schema.get("$defs", {})}
    return {**answer, DATA: make_invalid(answer[DATA], scoped)}
