"""Valid sample answers for each extraction schema, and a helper to read a rejection."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

_INVOICE: dict[str, Any] = {
    "vendor": {"name": "Acme GmbH", "address": "Hauptstr. 1, Berlin", "tax_id": "DE123"},
    "invoice_number": "INV-7",
    "issue_date": "2026-01-10",
    "due_date": "2026-02-10",
    "line_items": [
        {"description": "Widget", "quantity": 2, "unit_price": 25.0, "amount": 50.0},
        {"description": "Gadget", "quantity": 3, "unit_price": 15.0, "amount": 45.0},
        {"description": "Setup", "quantity": 1, "unit_price": 5.0, "amount": 5.0},
    ],
    "subtotal": 100.0,
    "tax": 19.0,
    "total": 119.0,
    "currency": "EUR",
}


def invoice_data(**overrides: Any) -> dict[str, Any]:
    """A consistent invoice; `overrides` replace top-level fields."""
    return copy.deepcopy(_INVOICE) | overrides


_CONTRACT: dict[str, Any] = {
    "title": "Supply Agreement",
    "parties": [
        {"name": "Acme Corp", "role": "supplier"},
        {"name": "Beta LLC", "role": "buyer"},
    ],
    "effective_date": "2026-01-01",
    "termination_date": "2027-01-01",
    "governing_law": "State of New York",
    "obligations": [
        {"party": "Acme Corp", "description": "Deliver 100 units monthly"},
        {"party": "Beta LLC", "description": "Pay within 30 days", "due_date": None},
    ],
    "renewal_terms": "Renews yearly unless cancelled",
    "summary": "Acme supplies Beta for a year.",
}


def contract_data(**overrides: Any) -> dict[str, Any]:
    """A consistent two-party contract; `overrides` replace top-level fields."""
    return copy.deepcopy(_CONTRACT) | overrides


_RESUME: dict[str, Any] = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": None,
    "summary": "Mathematician.",
    "skills": ["analysis", "programming"],
    "experience": [
        {
            "title": "Analyst",
            "company": "Analytical Engines Ltd",
            "start_date": "1842-01-01",
            "end_date": "1843-06-01",
        }
    ],
    "education": [{"institution": "Home tutoring", "degree": None, "graduation_year": 1900}],
}


def resume_data(**overrides: Any) -> dict[str, Any]:
    """A consistent resume; `overrides` replace top-level fields."""
    return copy.deepcopy(_RESUME) | overrides


_SUMMARY: dict[str, Any] = {
    "title": "Report",
    "summary": "A report.",
    "key_points": ["one"],
    "entities": [{"name": "Acme", "type": "organization"}],
    "language": "en",
}


def summary_data(**overrides: Any) -> dict[str, Any]:
    """A valid document summary; `overrides` replace top-level fields."""
    return copy.deepcopy(_SUMMARY) | overrides


def rejection(model: type[BaseModel], data: dict[str, Any]) -> str:
    """Validate `data` expecting a ValidationError; return the error's text."""
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    return str(exc.value)
