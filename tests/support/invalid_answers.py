"""A model answer that fails an extraction schema's validation while quoting the document."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.extraction.invoice import Invoice

MARKER = "Invoice ACME Quetzal-7781"  # a value only the document (and the model's answer) holds


def invalid_invoice() -> ValidationError:
    """The invoice schema's own arithmetic check, failing on a line that quotes the document."""
    answer = {
        "vendor": {"name": "ACME"},
        "invoice_number": "INV-1",
        "issue_date": "2026-11-01",
        "line_items": [
            {"description": MARKER, "quantity": 2, "unit_price": 10, "amount": 99},
        ],
        "subtotal": 99,
        "tax": 0,
        "total": 99,
        "currency": "EUR",
    }
    with pytest.raises(ValidationError) as caught:
        Invoice.model_validate(answer)
    return caught.value
