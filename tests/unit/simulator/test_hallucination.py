"""Hallucinations on request: `decide` says exactly which grounded leaves lie, and how."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.extraction.invoice import Invoice
from scripts.simulator.envelope import build_envelope
from scripts.simulator.formats import answer_checker
from scripts.simulator.hallucinate import RATE_ENV, decide, env_rate, value_key
from tests.unit.simulator.evidence_cases import (
    ACME,
    at,
    envelope_of,
    many_fields,
    prompt,
    quotes,
    tenant_envelope,
    tenant_prompt,
)

LEDGER, LEDGER_TEXT = many_fields(300)
SCHEMA = tenant_envelope(LEDGER)


def ledger(rate: float, sample: int = 1, text: str = LEDGER_TEXT) -> dict[str, Any]:
    """The ledger's envelope answer at a server-wide `rate`, for one sample."""
    system, user = tenant_prompt(text)
    if sample > 1:
        system += f" Independent sample {sample}."
    out = build_envelope(SCHEMA, user, system, default_rate=rate)
    assert answer_checker(SCHEMA).is_valid(out)
    return out


def altered(honest: dict[str, Any], lied: dict[str, Any]) -> set[str]:
    """The pointers whose value changed."""
    return {p for p in quotes(honest) if at(honest["data"], p) != at(lied["data"], p)}


def predicted(honest: dict[str, Any], rate: float, sample: int = 1) -> dict[str, str]:
    """What `decide` says of every grounded leaf of the honest answer."""
    out: dict[str, str] = {}
    for path in quotes(honest):
        kind = decide(path, value_key(at(honest["data"], path)), rate, sample)
        if kind is not None:
            out[path] = kind
    return out


HONEST = ledger(0.0)


def test_the_honest_ledger_grounds_all_of_its_fields() -> None:
    assert len(quotes(HONEST)) == 300
    assert all(q in LEDGER_TEXT for q in quotes(HONEST).values())


def test_decide_is_deterministic_and_bounded_by_the_rate() -> None:
    assert decide("/a", "x", 0.5) == decide("/a", "x", 0.5)
    assert all(decide(f"/f{i}", "v", 0.0) is None for i in range(200))
    kinds = [decide(f"/f{i}", "v", 1.0) for i in range(200)]
    assert None not in kinds
    assert 60 < kinds.count("invented") < 140


def test_the_rate_over_many_fields_is_close_and_decide_predicts_each_altered_leaf() -> None:
    rate = 0.3
    lied = ledger(rate)
    expected = predicted(HONEST, rate)
    assert altered(HONEST, lied) == set(expected)
    assert abs(len(expected) / 300 - rate) < 0.06
    assert set(expected.values()) == {"invented", "wrong_value"}


def test_invented_quotes_are_fabricated_and_wrong_value_quotes_are_real() -> None:
    lied = ledger(0.5)
    honest_quotes, lied_quotes = quotes(HONEST), quotes(lied)
    for path, kind in predicted(HONEST, 0.5).items():
        value = at(lied["data"], path)
        if kind == "invented":
            assert lied_quotes[path] not in LEDGER_TEXT
            assert str(value).lower() in lied_quotes[path].lower() or isinstance(value, bool)
        else:
            assert lied_quotes[path] == honest_quotes[path]
            assert lied_quotes[path] in LEDGER_TEXT
        if isinstance(value, bool):
            continue
        if kind == "wrong_value":
            assert str(value) not in lied_quotes[path]
        if not path.startswith("/status"):  # another enum member may be another field's value
            assert str(value) not in LEDGER_TEXT


def test_leaves_keep_their_type_and_enums_stay_members() -> None:
    lied = ledger(1.0)
    for path in quotes(HONEST):
        true, fake = at(HONEST["data"], path), at(lied["data"], path)
        assert type(true) is type(fake)
        assert true != fake
        if path.startswith("/status"):
            assert fake in ("open", "closed", "pending")


def test_a_second_sample_draws_its_own_hallucinations() -> None:
    first, second = ledger(0.3), ledger(0.3, sample=2)
    assert altered(HONEST, second) == set(predicted(HONEST, 0.3, sample=2))
    assert altered(HONEST, first) != altered(HONEST, second)


def test_the_document_directive_overrides_the_server_wide_rate() -> None:
    quiet = ledger(1.0, text=LEDGER_TEXT + "[[sim:hallucinate=0]]\n")
    assert altered(HONEST, quiet) == set()
    loud = ledger(0.0, text=LEDGER_TEXT + "[[sim:hallucinate=0.3]]\n")
    assert altered(HONEST, loud) == set(predicted(HONEST, 0.3))


def test_rule_bound_figures_are_never_hallucinated_so_the_invoice_still_validates() -> None:
    schema = envelope_of(Invoice)
    system, user = prompt(ACME)
    honest = build_envelope(schema, user, system)
    lied = build_envelope(schema, user, system, default_rate=1.0)
    Invoice.model_validate(lied["data"])
    changed = altered(honest, lied)
    bound = {"/subtotal", "/tax", "/total"} | {
        f"/line_items/{i}/{k}" for i in range(3) for k in ("quantity", "unit_price", "amount")
    }
    assert not changed & bound
    assert {"/invoice_number", "/issue_date", "/due_date", "/currency"} <= changed
    assert {"/line_items/0/description", "/vendor/name"} <= changed
    assert lied["data"]["issue_date"] <= lied["data"]["due_date"]


def test_leaves_the_document_does_not_state_are_never_hallucinated() -> None:
    schema = envelope_of(Invoice)
    system, user = prompt("Invoice number: INV-77\n")
    honest = build_envelope(schema, user, system)
    lied = build_envelope(schema, user, system, default_rate=1.0)
    assert honest["data"]["invoice_number"] == "INV-77" != lied["data"]["invoice_number"]
    assert {k: v for k, v in lied["data"].items() if k != "invoice_number"} == {
        k: v for k, v in honest["data"].items() if k != "invoice_number"
    }


@pytest.mark.parametrize(
    ("raw", "rate"), [("0.25", 0.25), ("1", 1.0), ("7", 1.0), ("-1", 0.0), ("", 0.0), ("x", 0.0)]
)
def test_the_server_wide_rate_reads_the_environment_variable(raw: str, rate: float) -> None:
    assert env_rate({RATE_ENV: raw}) == rate


def test_the_value_key_is_the_string_or_compact_json() -> None:
    assert [value_key(v) for v in ("INV-1", 150.54, 3.0, 2, True)] == [
        "INV-1",
        "150.54",
        "3.0",
        "2",
        "true",
    ]
