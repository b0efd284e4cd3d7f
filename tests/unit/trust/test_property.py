"""Over many generated documents, true fields score high and fabricated ones low."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from schemas.trust.config import TrustConfig
from tasks.trust.assess import assess

LETTERS = "abcdefghijklmnopqrstuvwxyz"
AMOUNT_FORMATS = ("{:,.2f}", "EUR {:.2f}", "${:,.2f}", "euro")
DATE_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%d %B %Y", "%b %d, %Y", "%Y-%m-%d", "%d.%m.%Y")


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(LETTERS, k=rng.randint(4, 9)))


def _noisy(rng: random.Random, text: str, keep: str = "") -> str:
    """About one substituted letter in 25, never inside `keep`."""
    guard = range(text.find(keep), text.find(keep) + len(keep)) if keep else range(0)
    chars = list(text)
    for i in rng.sample(range(len(chars)), k=max(1, len(chars) // 25)):
        if chars[i].isalpha() and i not in guard:
            chars[i] = "#"
    return "".join(chars)


def _noisy_line(rng: random.Random, line: str, values: list[str]) -> str:
    """A document line after OCR: amounts and dates kept, true values kept within the line."""
    if " amount " in line or " dated " in line:
        return line
    keep = next((v for v in values if v in line), "")
    return _noisy(rng, line, keep)


def _amount(rng: random.Random, value: float) -> str:
    style = rng.choice(AMOUNT_FORMATS)
    if style == "euro":  # 1.234,56
        return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return style.format(value)


@dataclass
class Case:
    """A generated document, an answer about it, and which fields are true."""

    lines: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    quotes: list[tuple[str, str]] = field(default_factory=list)
    true: set[str] = field(default_factory=set)
    fabricated: set[str] = field(default_factory=set)

    def add(self, key: str, value: Any, quote: str, *, true: bool) -> None:
        self.result[key] = value
        self.quotes.append((f"/{key}", quote))
        (self.true if true else self.fabricated).add(f"/{key}")


def _case(seed: int) -> Case:
    rng = random.Random(seed)
    vocab = [_word(rng) for _ in range(300)]
    case = Case(lines=[" ".join(rng.choices(vocab, k=rng.randint(5, 11))) for _ in range(60)])
    for k in range(3):  # text fields: a few words of a line, quoted exactly or noisily
        line = case.lines[rng.randrange(len(case.lines))]
        words = line.split(" ")
        at = rng.randrange(len(words) - 2)
        value = " ".join(words[at : at + 2])
        quote = rng.choice([line, line.upper(), _noisy(rng, line, value), "  ".join(words)])
        case.add(f"text{k}", value, quote, true=True)
    for k in range(2):  # amounts in several formats
        amount = round(rng.uniform(1, 99999), 2)
        line = f"{rng.choice(vocab)} amount {_amount(rng, amount)} {rng.choice(vocab)}"
        case.lines.insert(rng.randrange(len(case.lines)), line)
        case.add(f"amount{k}", amount, line, true=True)
        case.add(f"wrong_amount{k}", round(amount + rng.randint(1, 500), 2), line, true=False)
    day = date(2020, 1, 1) + timedelta(days=rng.randrange(3000))
    line = f"{rng.choice(vocab)} dated {day.strftime(rng.choice(DATE_FORMATS))}"
    case.lines.insert(rng.randrange(len(case.lines)), line)
    case.add("date", day.isoformat(), line, true=True)
    invented = " ".join(_word(rng) for _ in range(2))
    case.add("invented", invented, " ".join(_word(rng) for _ in range(6)), true=False)
    # A lookalike: a real line with the value swapped for an invented one.
    line = case.lines[rng.randrange(len(case.lines))]
    first = line.split(" ")[0]
    case.add("lookalike", invented, line.replace(first, invented.split(" ")[0], 1), true=False)
    case.add("unquoted", _word(rng), "", true=False)
    if seed % 2:  # OCR noise in the document itself, never inside a true value
        values = [v for p, v in case.result.items() if f"/{p}" in case.true and isinstance(v, str)]
        case.lines = [_noisy_line(rng, line, values) for line in case.lines]
    return case


def test_true_fields_score_at_least_0_8_and_fabricated_ones_at_most_0_15() -> None:
    config = TrustConfig()
    failures: list[str] = []
    for seed in range(200):
        case = _case(seed)
        text = "\n".join(case.lines[:30]) + "\f" + "\n".join(case.lines[30:])
        fields = assess(
            result=case.result,
            quotes=case.quotes,
            text=text,
            reasked=False,
            chunk_results=[],
            second=None,
            ocr_words=None,
            config=config,
        )
        for f in fields:
            if f.path in case.true and f.confidence < 0.8:
                failures.append(f"seed {seed}: true {f.path} scored {f.confidence} ({f.support})")
            if f.path in case.fabricated and f.confidence > 0.15:
                failures.append(f"seed {seed}: invented {f.path} scored {f.confidence}")
        assert {f.path for f in fields} == case.true | case.fabricated
    assert failures == []
