"""Per-field verdicts for one extraction: evidence, support and confidence for every leaf."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.trust.config import TrustConfig
from schemas.trust.fields import FieldOut, ReviewState, Support, leaves, unescape
from tasks.trust.confidence import Evidence, confidence
from tasks.trust.normalise import Normalised, fold, prepare
from tasks.trust.values import canonical, is_empty
from tasks.trust.verify import FullPasses, Match, locate, value_in

__all__ = ["OcrWord", "assess", "review_state", "summarise"]

OcrWord = tuple[int, int, float]  # (start, end, confidence 0-100) in the document text
_MISSING = object()


def assess(
    *,
    result: dict[str, Any],
    quotes: Iterable[tuple[str, str]],
    text: str,
    reasked: bool = False,
    chunk_results: Sequence[dict[str, Any]] = (),
    second: dict[str, Any] | None = None,
    ocr_words: Sequence[OcrWord] | None = None,
    inferred: Collection[str] = (),
    config: TrustConfig,
) -> list[FieldOut]:
    """One FieldOut per leaf of `result`, in the order `leaves` walks it.

    `inferred` names (as JSON Pointers) fields the model writes rather than copies, such as
    a summary: a leaf at or under one is supported by a quote found in the document, without
    the quote's text having to state the value. The root pointer is ignored: a whole result
    is never taken on a quote's word.
    """
    doc = prepare(text)
    by_path = _group(quotes, config.max_quote_chars)
    written = {w for w in (_mend(p) for p in inferred if isinstance(p, str)) if w}
    ocr = _OcrIndex(ocr_words or ())
    located: dict[str, Match | None] = {}
    passes = FullPasses()
    fields: list[FieldOut] = []
    for path, value in leaves(result):
        found, _, through_list = _resolve(result, path)
        # Chunks accumulate list items, so /items/3 of the result is not /items/3 of a chunk.
        chunks = [] if through_list or not found else [_resolve(c, path)[1] for c in chunk_results]
        given = [v for v in chunks if v is not _MISSING and not is_empty(v)]
        agreement = None
        if len(given) >= 2:
            wanted = canonical(value)
            agreement = sum(canonical(v) == wanted for v in given) / len(given)
        consistent = None
        if second is not None:
            other = _resolve(second, path)[1]
            consistent = canonical(None if other is _MISSING else other) == canonical(value)
        fields.append(
            _field(
                path=path,
                value=value,
                candidates=_candidates(by_path, path),
                doc=doc,
                located=located,
                passes=passes,
                inferred=any(path == w or path.startswith(f"{w}/") for w in written),
                config=config,
                factors={"reasked": reasked, "agreement": agreement, "consistent": consistent},
                ocr=ocr,
            )
        )
    return fields


def _field(
    *,
    path: str,
    value: Any,
    candidates: list[str],
    doc: Normalised,
    located: dict[str, Match | None],
    passes: FullPasses,
    inferred: bool,
    config: TrustConfig,
    factors: dict[str, Any],
    ocr: _OcrIndex,
) -> FieldOut:
    """The verdict for one leaf from its best quote (for an inferred leaf, one found)."""
    if is_empty(value):
        conf, signals = confidence(evidence="absent", **factors)
        return FieldOut(path=path, value=value, support="absent", confidence=conf, signals=signals)
    best: tuple[int, float, str, Match | None] | None = None
    for candidate in candidates:
        if candidate not in located:
            located[candidate] = locate(candidate, doc, config, passes=passes)
        match = located[candidate]
        held = match is not None and (inferred or value_in(value, match.span, config))
        rank = (2 if held else 1 if match is not None else 0, match.score if match else 0.0)
        if best is None or rank > best[:2]:
            best = (*rank, candidate, match)
    quote: str | None = best[2] if best else None
    match = best[3] if best else None
    evidence: Evidence = (
        "unlocated" if match is None else "supported" if best and best[0] == 2 else "value_missing"
    )
    support: Support = "unsupported"
    if evidence == "supported" and match is not None:
        support = "verified" if match.exact else "fuzzy"
    conf, signals = confidence(
        evidence=evidence,
        score=match.score if match else None,
        ocr=ocr.mean(match.start, match.end) if match else None,
        **factors,
    )
    if inferred:  # the value was not looked for in the quote: no signal claims it was
        signals.pop("value_in_quote", None)
    return FieldOut(
        path=path,
        value=value,
        quote=quote,
        support=support,
        start=match.start if match else None,
        end=match.end if match else None,
        page=match.page if match else None,
        confidence=conf,
        signals=signals,
    )


def _group(quotes: Iterable[Any], limit: int) -> dict[str, list[str]]:
    """Quotes by path, cut to `limit` characters; duplicates, blanks and malformed pairs dropped."""
    by_path: dict[str, list[str]] = {}
    for item in quotes:
        if not isinstance(item, tuple | list) or len(item) != 2:
            continue
        path, quote = item
        if not isinstance(path, str) or not isinstance(quote, str):
            continue
        quote = quote[:limit]
        if not fold(quote):  # blank, or only zero-width characters
            continue
        bucket = by_path.setdefault(_mend(path), [])
        if quote not in bucket:
            bucket.append(quote)
    return by_path


def _mend(path: str) -> str:
    """A pointer with its leading / restored and trailing ones dropped ("" stays the root)."""
    key = path if path.startswith("/") or not path else f"/{path}"
    return key.rstrip("/") if key != "/" else key


def _candidates(by_path: dict[str, list[str]], path: str) -> list[str]:
    """The leaf's own quotes, then those given for a containing object or list item."""
    out = list(by_path.get(path, []))
    prefix = path
    while prefix:
        prefix = prefix.rpartition("/")[0]
        out += [q for q in by_path.get(prefix, []) if q not in out]
    return out


def _resolve(value: Any, path: str) -> tuple[bool, Any, bool]:
    """(found, value, went through a list) for a JSON Pointer; value is _MISSING if not found."""
    through_list = False
    for segment in path.split("/")[1:] if path else []:
        if isinstance(value, dict):
            key = unescape(segment)
            if key not in value:
                return False, _MISSING, through_list
            value = value[key]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value, through_list = value[int(segment)], True
        else:
            return False, _MISSING, through_list
    return True, value, through_list


@dataclass
class _OcrIndex:
    """OCR words sorted by start, for the mean confidence of the words under a span."""

    words: Sequence[OcrWord]

    def __post_init__(self) -> None:
        self.words = sorted((w for w in self.words if w[2] >= 0), key=lambda w: w[0])
        self.starts = [w[0] for w in self.words]
        self.longest = max((w[1] - w[0] for w in self.words), default=0)

    def mean(self, start: int, end: int) -> float | None:
        """Mean confidence (0-100) of the words overlapping [start, end), None if none do."""
        lo = bisect_left(self.starts, start - self.longest)
        hi = bisect_left(self.starts, end)
        confs = [w[2] for w in self.words[lo:hi] if w[1] > start]
        return sum(confs) / len(confs) if confs else None


def summarise(fields: Sequence[FieldOut]) -> float | None:
    """The job's confidence: its least confident field (None when there are no fields)."""
    return min((f.confidence for f in fields), default=None)


def review_state(fields: Sequence[FieldOut], threshold: float) -> ReviewState:
    """PENDING when any field's confidence is below the threshold, else NOT_NEEDED."""
    if any(f.confidence < threshold for f in fields):
        return ReviewState.PENDING
    return ReviewState.NOT_NEEDED
