"""The sampled token estimate: exact for short texts, close and cheap for long ones."""

from __future__ import annotations

import pytest

from tasks.documents import tokens
from tasks.documents.tokens import SAMPLE_CHARS, estimate_tokens, estimate_tokens_sampled
from tests.unit.documents.token_corpus import CORPUS


def test_a_short_text_is_priced_exactly() -> None:
    text = CORPUS["invoice"]
    assert len(text) <= SAMPLE_CHARS
    assert estimate_tokens_sampled(text) == estimate_tokens(text)


@pytest.mark.parametrize("name", ["english_legal", "german_prose", "chinese", "python_code"])
def test_a_long_text_is_estimated_within_three_percent_of_the_full_walk(name: str) -> None:
    text = "\n\n".join(f"{n}. {CORPUS[name]}" for n in range(2 * SAMPLE_CHARS // 100))
    assert len(text) > 2 * SAMPLE_CHARS
    exact = estimate_tokens(text)
    assert abs(estimate_tokens_sampled(text) - exact) <= 0.03 * exact


def test_a_long_text_prices_no_more_than_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    priced: list[int] = []
    real = tokens.estimate_tokens

    def counting(text: str) -> int:
        priced.append(len(text))
        return real(text)

    monkeypatch.setattr(tokens, "estimate_tokens", counting)
    text = "the audit of the quarter passed without findings. " * 200_000  # 10 MB
    assert estimate_tokens_sampled(text) > 0
    assert 0 < sum(priced) <= SAMPLE_CHARS
