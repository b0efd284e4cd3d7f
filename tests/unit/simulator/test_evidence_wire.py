"""Evidence envelopes through the HTTP simulator, the real SDKs and instructor."""

from __future__ import annotations

import json
from typing import Any

import instructor
import pytest
from pydantic import BaseModel

from schemas.extraction.invoice import Invoice
from schemas.extraction.prompts import INVOICE_PROMPT
from schemas.trust.envelope import answer_model
from scripts.simulator import BackgroundSimulator, SimState
from scripts.simulator.answers import build_answer
from scripts.simulator.hallucinate import RATE_ENV, decide, value_key
from tasks.engine.evidence import sample_messages, with_evidence_note
from tests.unit.simulator.evidence_cases import ACME, at, quotes
from tests.unit.simulator.harness import anthropic_client, openai_client, recorded

ENVELOPE = answer_model(Invoice)
_BOUND = ("quantity", "unit_price", "amount", "subtotal", "tax", "total")  # never hallucinated


def messages(text: str, sample: int = 1) -> list[dict[str, str]]:
    """The engine's messages for one sample of an invoice extraction."""
    rendered = INVOICE_PROMPT.render(text=text, filename="acme.txt")
    return sample_messages(rendered, sample) if sample > 1 else with_evidence_note(rendered)


def openai_answer(sim: BackgroundSimulator, text: str, sample: int = 1) -> dict[str, Any]:
    """The envelope the simulator returns through instructor's OpenAI tools mode."""
    client = instructor.from_openai(openai_client(sim), mode=instructor.Mode.TOOLS)
    answer: BaseModel = client.chat.completions.create(
        model="gpt-5.6-luna",
        response_model=ENVELOPE,
        messages=messages(text, sample),  # type: ignore[arg-type]
        max_retries=0,
    )
    return answer.model_dump(mode="json")


def test_openai_tools_mode_answers_the_envelope_with_grounded_evidence(
    sim: BackgroundSimulator,
) -> None:
    answer = openai_answer(sim, ACME)
    invoice = Invoice.model_validate(answer["data"])
    assert (invoice.invoice_number, invoice.total) == ("INV-2041", 150.54)
    assert answer["document_fit"]["fits"] is True
    assert quotes(answer)["/issue_date"] == "Issue date: 2026-03-01"
    assert all(q in ACME for q in quotes(answer).values())


def test_anthropic_tool_use_answers_the_envelope_and_reads_directives(
    sim: BackgroundSimulator,
) -> None:
    system, user = (m["content"] for m in messages(ACME + "\n[[sim:mismatch]]\n"))
    client = instructor.from_anthropic(anthropic_client(sim), mode=instructor.Mode.TOOLS)
    answer: BaseModel = client.messages.create(
        model="claude-haiku-5-5",
        max_tokens=4096,
        response_model=ENVELOPE,
        system=system,
        messages=[{"role": "user", "content": user}],
        max_retries=0,
    )
    dumped = answer.model_dump(mode="json")
    assert dumped["document_fit"] == {"fits": False, "reason": "the document is not an Invoice"}
    assert Invoice.model_validate(dumped["data"]).vendor.name == "ACME Tools GmbH"
    assert not any("[[sim:" in q for q in quotes(dumped).values())


def test_the_engines_sample_note_draws_a_second_sample(sim: BackgroundSimulator) -> None:
    text = ACME + "[[sim:hallucinate=0.5]]\n"
    honest = openai_answer(sim, ACME)
    first, second = openai_answer(sim, text), openai_answer(sim, text, sample=2)
    assert "Independent sample 2." in recorded(sim)[-1]["body"]["messages"][0]["content"]
    for sample, lied in ((1, first), (2, second)):
        changed = {p for p in quotes(honest) if at(lied["data"], p) != at(honest["data"], p)}
        bound = {p for p in quotes(honest) if p.split("/")[-1] in _BOUND}
        expected = {
            p
            for p in set(quotes(honest)) - bound
            if decide(p, value_key(at(honest["data"], p)), 0.5, sample) is not None
        }
        assert changed == expected
    assert first["data"] != second["data"]


def test_the_server_wide_rate_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(RATE_ENV, "1")
    with BackgroundSimulator(SimState()) as lying:
        answer = openai_answer(lying, ACME)
    invoice = Invoice.model_validate(answer["data"])  # still valid: rules hold
    assert invoice.invoice_number != "INV-2041"
    assert invoice.total == 150.54  # bound by the totals rule: never hallucinated


def test_plain_schemas_are_answered_exactly_as_before(sim: BackgroundSimulator) -> None:
    schema = Invoice.model_json_schema()
    system, user = (m["content"] for m in messages(ACME))
    response = openai_client(sim).chat.completions.create(
        model="gpt-5.6-luna",
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        tools=[{"type": "function", "function": {"name": "Invoice", "parameters": schema}}],
    )
    calls = response.choices[0].message.tool_calls
    assert calls is not None
    assert json.loads(calls[0].function.arguments) == build_answer(schema, user, 0)  # type: ignore[union-attr]
