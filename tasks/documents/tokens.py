"""Offline estimate of OpenAI BPE token counts (o200k_base, close to cl100k_base).

The real tokenizers need their rank files downloaded at run time, which the workers
cannot rely on, and an exact count is not needed: the estimate only has to be close
enough to size chunks and budgets. It mimics tiktoken's pre-tokenizer (which decides
where tokens may *not* span) and then prices each piece: most pre-tokenizer pieces are
a single token, long or unusual words split into several, and CJK text costs roughly
one token per one or two characters.

Calibrated against o200k_base (gpt-4o, gpt-4.1, o-series); see tests/unit/documents/test_tokens.py.
"""

from __future__ import annotations

import re

__all__ = ["SAMPLE_CHARS", "estimate_tokens", "estimate_tokens_sampled"]

# Stdlib `re` has no \p{L}/\p{N}: "[^\W\d_]" is "a letter", "\d" is "a digit".
# Upper/lower classes only distinguish ASCII case; other letters count as both,
# which is what the real pattern does for uncased scripts (\p{Lo}).
_UPPER = r"[^\W\d_a-z]"
_LOWER = r"[^\W\d_A-Z]"
_LEAD = r"(?:[^\r\n\w]|_)?"  # one optional space/punctuation glued to the word
_SUFFIX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?"

# Same alternation order as o200k_base's pattern, so pieces split at the same places
# (camelCase humps, 3-digit groups, trailing newlines after punctuation).
_PIECE = re.compile(
    rf"(?P<word>{_LEAD}(?P<letters>{_UPPER}*{_LOWER}+|{_UPPER}+{_LOWER}*){_SUFFIX})"
    r"|(?P<num>\d{1,3})"
    r"|(?P<punct> ?(?:[^\s\w]|_)+[\r\n/]*)"
    r"|(?P<space>\s*[\r\n]+|\s+(?!\S)|\s+)"
)

# Fitted on tests/unit/documents/token_corpus.py (o200k_base). English words up to
# about seven letters are almost always one token; beyond that BPE splits them into
# roughly four-to-five-letter pieces.
_SHORT_WORD = 7
_LONG_WORD_CHARS_PER_TOKEN = 4.5
# All-caps words (codes, bank statement descriptions) are much rarer in training
# text, so they split earlier.
_CAPS_WORD = 4
_CAPS_CHARS_PER_TOKEN = 3.0
# Long accented-Latin words ("Verjährungsfrist") split more often than English ones.
_OTHER_CHARS_PER_TOKEN = 3.2
# Mostly non-Latin alphabetic words (Cyrillic, Greek, Arabic, ...); o200k_base has
# many whole-word tokens for these.
_NON_LATIN_CHARS_PER_TOKEN = 4.0
# Per-character costs of the scripts o200k_base covers char-by-char or in pairs.
_HAN_TOKENS_PER_CHAR = 0.75
_KANA_TOKENS_PER_CHAR = 0.6
_HANGUL_TOKENS_PER_CHAR = 0.55
# Punctuation runs: up to three characters ("\"},", "://") usually merge into one token.
_PUNCT_FREE = 3
_PUNCT_CHARS_PER_TOKEN = 3.0
# Whitespace runs: o200k_base has single tokens for up to ~128 spaces (layout padding)
# but only ~16 newlines or tabs.
_SPACES_PER_TOKEN = 128
_BREAKS_PER_TOKEN = 16
# Rules drawn with one repeated character ("-----", "=====") merge ~64 chars a token.
_RULE_CHARS_PER_TOKEN = 64


def _cjk_counts(word: str) -> tuple[int, int, int, int]:
    """Count (han, kana, hangul, other non-ASCII letters) in a word."""
    han = kana = hangul = other = 0
    for ch in word:
        cp = ord(ch)
        if cp < 0x80:
            continue
        if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF:
            han += 1
        elif 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF:
            kana += 1
        elif 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
            hangul += 1
        else:
            other += 1
    return han, kana, hangul, other


def _word_cost(letters: str) -> float:
    """Estimate tokens for one run of letters (already split at camelCase humps)."""
    n = len(letters)
    if letters.isascii():
        if n >= _CAPS_WORD and letters.isupper():
            return max(1.0, n / _CAPS_CHARS_PER_TOKEN)
        if n <= _SHORT_WORD:
            return 1.0
        return 1.0 + (n - _SHORT_WORD) / _LONG_WORD_CHARS_PER_TOKEN
    han, kana, hangul, other = _cjk_counts(letters)
    cjk = han * _HAN_TOKENS_PER_CHAR + kana * _KANA_TOKENS_PER_CHAR
    cjk += hangul * _HANGUL_TOKENS_PER_CHAR
    if han or kana or hangul:
        # Mixed runs ("Q2报告"): price the Latin part like a short English word.
        ascii_part = n - han - kana - hangul - other
        return max(1.0, cjk + other / _OTHER_CHARS_PER_TOKEN + ascii_part / 4)
    # A Latin word with a few accents ("für", "Größe"): English-like, plus a
    # penalty per non-ASCII letter because those split the BPE merges around them.
    base = 1.0 if n <= _SHORT_WORD else 1.0 + (n - _SHORT_WORD) / _OTHER_CHARS_PER_TOKEN
    if other * 2 > n:
        # Mostly non-Latin (Cyrillic, Greek, Arabic, ...).
        return max(1.0, n / _NON_LATIN_CHARS_PER_TOKEN)
    return base + 0.3 * other


def _punct_cost(piece: str) -> float:
    """Estimate tokens for a run of punctuation/symbols."""
    core = piece.strip(" \r\n")
    n = len(core)
    if n > _PUNCT_FREE and core.count(core[0]) == n:
        return 1.0 + n // _RULE_CHARS_PER_TOKEN
    extra_non_ascii = sum(1 for ch in core if ord(ch) >= 0x80)
    # Symbols outside ASCII take 2-4 UTF-8 bytes and rarely merge with neighbours.
    cost = 1.0 + max(0, n - _PUNCT_FREE) / _PUNCT_CHARS_PER_TOKEN
    return cost + 0.5 * max(0, extra_non_ascii - 1)


def estimate_tokens(text: str) -> int:
    """Estimate the o200k_base token count of text without any tokenizer files."""
    total = 0.0
    for m in _PIECE.finditer(text):
        kind = m.lastgroup
        if kind == "word":
            total += _word_cost(m.group("letters"))
        elif kind == "num":
            total += 1.0
        elif kind == "punct":
            total += _punct_cost(m.group())
        else:
            run = m.group()
            per = _SPACES_PER_TOKEN if run.count(" ") == len(run) else _BREAKS_PER_TOKEN
            total += 1.0 + (len(run) - 1) // per
    return round(total)


# Above this many characters `estimate_tokens_sampled` prices evenly spaced windows and
# scales: the exact walk costs seconds of CPU per MB, held under the GIL in the API.
SAMPLE_CHARS = 128 * 1024
_SAMPLE_WINDOWS = 64


def estimate_tokens_sampled(text: str, *, sample_chars: int = SAMPLE_CHARS) -> int:
    """`estimate_tokens`, exact for short texts, from evenly spaced windows for long ones."""
    if len(text) <= sample_chars:
        return estimate_tokens(text)
    width = sample_chars // _SAMPLE_WINDOWS
    stride = len(text) // _SAMPLE_WINDOWS
    priced = sampled = 0
    for n in range(_SAMPLE_WINDOWS):
        start = n * stride
        end = start + width
        # Cut at whitespace so no window splits a word (a split word prices as two).
        if start:
            space = text.find(" ", start, end)
            start = space + 1 if space >= 0 else start
        space = text.rfind(" ", start, end)
        end = space if space > start else end
        priced += estimate_tokens(text[start:end])
        sampled += end - start
    return round(priced * len(text) / max(sampled, 1))
