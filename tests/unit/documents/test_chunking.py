"""tasks.documents.chunking: ordered, overlapping chunks that cover the document and fit
the budget."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from tasks.documents.chunking import needs_chunking, split_document
from tasks.documents.tokens import estimate_tokens


def words(first: int, count: int) -> str:
    """Unique six-character words, so every chunk has exactly one place in the text."""
    return " ".join(f"w{n:05d}" for n in range(first, first + count))


def sentences(first: int, count: int, per: int = 8) -> str:
    """`count` sentences of `per` unique words each."""
    return " ".join(words(first + k * per, per) + "." for k in range(count))


def placements(text: str, chunks: list[str]) -> list[tuple[int, int]]:
    """Where each chunk sits in text: each starts inside, or right after, the previous one.

    A repeated substring can fit in several places, so every consistent placement is
    tracked (as a state: this chunk's start, end of text covered so far).
    """
    layers: list[dict[tuple[int, int], tuple[int, int]]] = []
    states = [(0, 0)]
    for index, chunk in enumerate(chunks):
        layer: dict[tuple[int, int], tuple[int, int]] = {}
        for start, covered in states:
            # A later start than the previous chunk's, and no gap after what is covered.
            at = text.find(chunk, start, covered + len(chunk))
            while at != -1:
                layer.setdefault((at, max(covered, at + len(chunk))), (start, covered))
                at = text.find(chunk, at + 1, covered + len(chunk))
        assert layer, f"chunk {index} is not an in-order continuation of the previous ones"
        layers.append(layer)
        states = sorted(layer)[-64:]
    state = next((s for s in states if s[1] == len(text)), None)
    assert state is not None, "the chunks do not reach the end of the text"
    spans: list[tuple[int, int]] = []
    for layer, chunk in zip(reversed(layers), reversed(chunks), strict=True):
        spans.append((state[0], state[0] + len(chunk)))
        state = layer[state]
    return spans[::-1]


def structured_document() -> str:
    """Pages of paragraphs of sentences, all words unique."""
    pages = []
    n = 0
    for _ in range(4):
        paragraphs = []
        for _ in range(5):
            paragraphs.append(sentences(n, 6))
            n += 48
        pages.append("\n\n".join(paragraphs))
    return "\f".join(pages)


def test_short_text_is_a_single_unchanged_chunk() -> None:
    text = "  A short note.\n\nWith two paragraphs.  "
    assert split_document(text=text, max_tokens=1000, overlap_chars=50) == [text]


def test_needs_chunking_agrees_with_the_estimate() -> None:
    text = sentences(0, 20)
    tokens = estimate_tokens(text)
    assert not needs_chunking(text=text, max_tokens=tokens)
    assert needs_chunking(text=text, max_tokens=tokens - 1)
    assert len(split_document(text=text, max_tokens=tokens - 1, overlap_chars=0)) > 1


@pytest.mark.parametrize(("max_tokens", "overlap"), [(400, 0), (400, 120), (150, 60), (40, 30)])
def test_every_character_appears_in_some_chunk(max_tokens: int, overlap: int) -> None:
    text = structured_document()
    chunks = split_document(text=text, max_tokens=max_tokens, overlap_chars=overlap)
    spans = placements(text, chunks)
    assert spans[0][0] == 0
    assert spans[-1][1] == len(text)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start <= end  # no gap between consecutive chunks


@pytest.mark.parametrize(("max_tokens", "overlap"), [(400, 0), (150, 60), (40, 30), (7, 20)])
def test_every_chunk_is_within_max_tokens(max_tokens: int, overlap: int) -> None:
    chunks = split_document(
        text=structured_document(), max_tokens=max_tokens, overlap_chars=overlap
    )
    assert max(estimate_tokens(c) for c in chunks) <= max_tokens


def test_chunks_are_in_document_order() -> None:
    text = structured_document()
    spans = placements(text, split_document(text=text, max_tokens=120, overlap_chars=40))
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    assert ends == sorted(ends)
    assert len(set(ends)) == len(ends)


def test_chunks_overlap_by_the_configured_amount() -> None:
    text = structured_document()
    overlap = 50
    chunks = split_document(text=text, max_tokens=200, overlap_chars=overlap)
    spans = placements(text, chunks)
    assert len(spans) > 3
    for (_, prev_end), (start, _) in itertools.pairwise(spans):
        shared = prev_end - start
        # Cut at a word boundary: at most one word (6 chars + space) shorter than asked.
        assert overlap - 7 <= shared <= overlap
        assert text[start - 1].isspace()
        assert not text[start].isspace()


def test_zero_overlap_chunks_concatenate_to_the_input() -> None:
    text = structured_document()
    chunks = split_document(text=text, max_tokens=90, overlap_chars=0)
    assert len(chunks) > 5
    assert "".join(chunks) == text


def test_page_boundaries_are_preferred() -> None:
    # Each page is about 40% of the budget: chunks should hold two whole pages.
    pages = [sentences(k * 100, 10) for k in range(6)]
    text = "\f".join(pages)
    budget = int(estimate_tokens(pages[0]) / 0.4)
    chunks = split_document(text=text, max_tokens=budget, overlap_chars=0)
    assert chunks == [
        pages[0] + "\f" + pages[1] + "\f",
        pages[2] + "\f" + pages[3] + "\f",
        pages[4] + "\f" + pages[5],
    ]


def test_chunk_ends_at_a_page_break_rather_than_mid_page_when_half_full() -> None:
    # Page one fills ~55% of the budget; page two is long, made of short paragraphs.
    # Greedy packing would top chunk one up with page two's first paragraphs.
    first = sentences(0, 11)
    budget = int(estimate_tokens(first) / 0.55)
    second = "\n\n".join(sentences(1000 + k * 100, 2) for k in range(30))
    chunks = split_document(text=first + "\f" + second, max_tokens=budget, overlap_chars=0)
    assert chunks[0] == first + "\f"


def test_with_overlap_chunks_end_at_paragraph_ends_not_mid_paragraph() -> None:
    # Paragraphs of ~60% of the budget are split into sentences (pieces must leave room
    # for the overlap), yet chunks should still close at a paragraph end.
    paragraphs = [sentences(k * 100, 8) for k in range(8)]
    budget = int(estimate_tokens(paragraphs[0]) / 0.6)
    chunks = split_document(text="\n\n".join(paragraphs), max_tokens=budget, overlap_chars=60)
    assert len(chunks) >= 6
    assert all(c.endswith("\n\n") for c in chunks[:-1])


def test_paragraph_boundaries_are_preferred_within_a_page() -> None:
    paragraphs = [sentences(k * 100, 7) for k in range(6)]
    text = "\n\n".join(paragraphs)
    budget = int(estimate_tokens(paragraphs[0]) * 2.5)
    chunks = split_document(text=text, max_tokens=budget, overlap_chars=0)
    assert len(chunks) == 3
    assert all(c.endswith("\n\n") for c in chunks[:-1])


def test_long_paragraph_is_split_at_sentence_ends() -> None:
    text = sentences(0, 60)
    chunks = split_document(text=text, max_tokens=100, overlap_chars=0)
    assert len(chunks) > 3
    assert all(c.endswith(". ") for c in chunks[:-1])


def test_text_without_spaces_is_hard_cut_within_budget() -> None:
    rng = random.Random(5)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(20_000))
    chunks = split_document(text=text, max_tokens=100, overlap_chars=0)
    assert "".join(chunks) == text
    assert max(estimate_tokens(c) for c in chunks) <= 100
    assert min(len(c) for c in chunks[:-1]) > 100  # cuts are not needlessly tiny


def test_cjk_text_splits_at_full_stops() -> None:
    sentence = "本合同由甲方与乙方于二零二四年十月一日签订\uff0c双方经友好协商达成如下协议。"
    text = "".join(f"{sentence[:-1]}{n}。" for n in range(80))
    chunks = split_document(text=text, max_tokens=150, overlap_chars=0)
    assert len(chunks) > 3
    assert "".join(chunks) == text
    assert all(c.endswith("。") for c in chunks)
    # Sentence pieces priced alone undercount CJK (rounding): the whole must still fit.
    assert max(estimate_tokens(c) for c in chunks) <= 150


def test_short_cjk_lines_packed_together_still_fit_the_budget() -> None:
    # Each line costs 3.25 tokens, rounded to 3 when priced alone: summing the pieces
    # undercounts the packed chunk by 8%.
    text = "签订签\n" * 3000
    for max_tokens in (50, 333, 1000):
        chunks = split_document(text=text, max_tokens=max_tokens, overlap_chars=0)
        assert "".join(chunks) == text
        assert max(estimate_tokens(c) for c in chunks) <= max_tokens
        # ...without falling back to one sentence per chunk.
        assert len(chunks) <= 1.3 * estimate_tokens(text) / max_tokens + 1


def test_overlap_without_spaces_is_cut_mid_word_rather_than_dropped() -> None:
    text = "".join(f"签订{n:03d}。" for n in range(400))
    chunks = split_document(text=text, max_tokens=100, overlap_chars=10)
    spans = placements(text, chunks)
    assert all(prev_end - start == 10 for (_, prev_end), (start, _) in itertools.pairwise(spans))


def test_huge_overlap_is_capped_so_chunks_still_fit_and_progress() -> None:
    text = structured_document()
    chunks = split_document(text=text, max_tokens=60, overlap_chars=1_000_000)
    spans = placements(text, chunks)
    assert spans[-1][1] == len(text)
    assert max(estimate_tokens(c) for c in chunks) <= 60
    assert len(chunks) < 4 * estimate_tokens(text) / 60  # overlap takes at most half


def test_invalid_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        split_document(text="x", max_tokens=0, overlap_chars=0)
    with pytest.raises(ValueError, match="overlap_chars"):
        split_document(text="x", max_tokens=10, overlap_chars=-1)


def test_random_documents_keep_every_invariant() -> None:
    rng = random.Random(99)
    alphabet = [*"abcdefg hij", ". ", "\n", "\n\n", "\f", "!", "东京", "。", "\t", "-" * 30]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 1500)))
        max_tokens = rng.randint(1, 200)
        chunks = split_document(text=text, max_tokens=max_tokens, overlap_chars=rng.randint(0, 300))
        if estimate_tokens(text) > max_tokens:
            assert max(estimate_tokens(c) for c in chunks) <= max_tokens
        spans = placements(text, chunks)
        assert spans[-1][1] == len(text)


def test_splitting_a_megabyte_document_takes_seconds_not_minutes() -> None:
    text = "\n\n".join(sentences(k * 1000, 40) for k in range(60))
    text = (text + "\f") * 5  # ~1 MB
    started = time.monotonic()
    chunks = split_document(text=text, max_tokens=4000, overlap_chars=500)
    assert time.monotonic() - started < 10
    assert len(chunks) > 10
