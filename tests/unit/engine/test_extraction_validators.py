"""Extraction models: the shared base, and the summary, contract and resume validators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas.extraction import (
    Contract,
    DocumentSummary,
    ExtractionModel,
    Invoice,
    Resume,
    list_schemas,
)
from tests.unit.engine.extraction_samples import (
    contract_data,
    invoice_data,
    rejection,
    resume_data,
    summary_data,
)

# --- shared base ----------------------------------------------------------------------------


def test_extraction_models_ignore_fields_the_llm_adds() -> None:
    data = invoice_data(confidence=0.9)
    data["vendor"]["notes"] = "extra"
    invoice = Invoice.model_validate(data)
    assert "confidence" not in invoice.model_dump()
    assert "notes" not in invoice.vendor.model_dump()


def test_extraction_models_strip_surrounding_whitespace() -> None:
    invoice = Invoice.model_validate(invoice_data(invoice_number="  INV-7 \n"))
    assert invoice.invoice_number == "INV-7"


def test_every_registered_model_derives_from_extraction_model() -> None:
    for spec in list_schemas():
        assert issubclass(spec.model, ExtractionModel), spec.name


# --- document summary -----------------------------------------------------------------------


def test_document_summary_normalises_language_code_case() -> None:
    assert DocumentSummary.model_validate(summary_data(language=" EN ")).language == "en"


@pytest.mark.parametrize("language", ["eng", "English", "e", "e1", ""])
def test_document_summary_rejects_language_that_is_not_two_letters(language: str) -> None:
    assert "ISO 639-1" in rejection(DocumentSummary, summary_data(language=language))


def test_entity_type_is_accepted_in_any_case() -> None:
    summary = DocumentSummary.model_validate(
        summary_data(entities=[{"name": "Ada", "type": "Person"}])
    )
    assert summary.entities[0].type == "person"


def test_entity_rejects_type_outside_the_fixed_list() -> None:
    with pytest.raises(ValidationError):
        DocumentSummary.model_validate(summary_data(entities=[{"name": "Ada", "type": "human"}]))


# --- contract -------------------------------------------------------------------------------


def test_contract_accepts_a_consistent_contract() -> None:
    contract = Contract.model_validate(contract_data())
    assert [p.name for p in contract.parties] == ["Acme Corp", "Beta LLC"]


def test_contract_rejects_termination_before_effective_date() -> None:
    error = rejection(Contract, contract_data(termination_date="2025-12-31"))
    assert "termination_date 2025-12-31 is before effective_date 2026-01-01" in error


def test_contract_accepts_termination_without_effective_date() -> None:
    contract = Contract.model_validate(contract_data(effective_date=None))
    assert contract.termination_date is not None


def test_contract_requires_at_least_two_parties() -> None:
    data = contract_data(parties=[{"name": "Acme Corp", "role": "supplier"}], obligations=[])
    assert "parties" in rejection(Contract, data)


def test_contract_matches_obligation_party_ignoring_case_and_spacing() -> None:
    data = contract_data()
    data["obligations"][0]["party"] = "ACME  corp"
    Contract.model_validate(data)


# --- resume ---------------------------------------------------------------------------------


def test_resume_accepts_a_consistent_resume() -> None:
    assert Resume.model_validate(resume_data()).experience[0].company == "Analytical Engines Ltd"


def test_resume_accepts_current_position_without_end_date() -> None:
    data = resume_data()
    data["experience"][0]["end_date"] = None
    assert Resume.model_validate(data).experience[0].end_date is None


@pytest.mark.parametrize("year", [1900, 2100])
def test_resume_accepts_graduation_year_at_the_bounds(year: int) -> None:
    data = resume_data(education=[{"institution": "MIT", "graduation_year": year}])
    assert Resume.model_validate(data).education[0].graduation_year == year


@pytest.mark.parametrize("year", [1899, 2101, 26])
def test_resume_rejects_graduation_year_outside_1900_to_2100(year: int) -> None:
    data = resume_data(education=[{"institution": "MIT", "graduation_year": year}])
    assert "education.0.graduation_year" in rejection(Resume, data)


# --- rules across a list entry's fields -----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "sample", "entry", "change", "message"),
    [
        pytest.param(
            Contract,
            contract_data,
            ("obligations", 1),
            {"party": "Gamma Inc"},
            "obligations[1].party is 'Gamma Inc', which is not one of the parties "
            "('Acme Corp', 'Beta LLC')",
            id="contract_obligation_of_a_party_not_in_the_contract",
        ),
        pytest.param(
            Resume,
            resume_data,
            ("experience", 0),
            {"end_date": "1841-12-31"},
            "position 'Analyst' at 'Analytical Engines Ltd': end_date 1841-12-31 is before "
            "start_date 1842-01-01",
            id="resume_position_that_ends_before_it_starts",
        ),
    ],
)
def test_an_inconsistent_list_entry_is_rejected_by_its_name(
    model: type[BaseModel],
    sample: Callable[[], dict[str, Any]],
    entry: tuple[str, int],
    change: dict[str, Any],
    message: str,
) -> None:
    data = sample()
    field, index = entry
    data[field][index].update(change)
    assert message in rejection(model, data)
