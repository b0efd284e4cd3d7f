"""The invoice schema's validators: line sums, amounts, totals, dates and currency."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.extraction import Invoice
from tests.unit.engine.extraction_samples import invoice_data, rejection


def test_invoice_accepts_a_consistent_invoice() -> None:
    invoice = Invoice.model_validate(invoice_data())
    assert invoice.total == 119.0
    assert invoice.issue_date.isoformat() == "2026-01-10"


def test_invoice_rejects_line_items_that_do_not_sum_to_subtotal() -> None:
    data = invoice_data(subtotal=100.0, tax=0.0, total=100.0)
    data["line_items"][2] = {"description": "Setup", "quantity": 1, "unit_price": 25, "amount": 25}
    assert "line items sum to 120.00 but subtotal is 100.00" in rejection(Invoice, data)


def test_invoice_accepts_sum_within_rounding() -> None:
    # Three lines may each be a cent off: 0.03 in total is tolerated.
    Invoice.model_validate(invoice_data(subtotal=100.03, total=119.03))


@pytest.mark.parametrize(
    "line",
    [
        # 100.01 - 100.00 is 0.0100000000000051 in binary floats; the bound is inclusive.
        pytest.param(
            {"description": "All", "quantity": 1, "unit_price": 100.01, "amount": 100.01},
            id="sum_off_by_exactly_one_cent_per_line",
        ),
        pytest.param(
            {"description": "Thirds", "quantity": 3, "unit_price": 33.333, "amount": 100.0},
            id="line_amount_rounded_to_the_cent",
        ),
    ],
)
def test_invoice_accepts_a_line_within_a_cent_of_exact(line: dict[str, Any]) -> None:
    data = invoice_data(subtotal=100.0, tax=0.0, total=100.0)
    data["line_items"] = [line]
    Invoice.model_validate(data)


def test_invoice_rejects_sum_beyond_one_cent_per_line() -> None:
    error = rejection(Invoice, invoice_data(subtotal=100.04, total=119.04))
    assert "line items sum to 100.00 but subtotal is 100.04" in error


def test_invoice_without_line_items_skips_the_sum_check() -> None:
    invoice = Invoice.model_validate(invoice_data(line_items=[]))
    assert invoice.line_items == []


def test_invoice_rejects_line_amount_that_is_not_quantity_times_unit_price() -> None:
    data = invoice_data()
    data["line_items"][1]["amount"] = 50.0
    assert (
        "line_items[1] ('Gadget'): amount is 50.00 but quantity 3 * unit_price 15 = 45.00"
        in rejection(Invoice, data)
    )


def test_invoice_line_error_keeps_quantity_and_price_precision() -> None:
    data = invoice_data(subtotal=1.0, tax=0.0, total=1.0)
    data["line_items"] = [
        {"description": "Bolts", "quantity": 1000000, "unit_price": 0.125, "amount": 1.0}
    ]
    assert "quantity 1000000 * unit_price 0.125 = 125000.00" in rejection(Invoice, data)


def test_invoice_rejects_total_that_is_not_subtotal_plus_tax() -> None:
    error = rejection(Invoice, invoice_data(total=120.0))
    assert "total is 120.00 but subtotal 100.00 + tax 19.00 = 119.00" in error


def test_invoice_rejects_due_date_before_issue_date() -> None:
    error = rejection(Invoice, invoice_data(due_date="2026-01-09"))
    assert "due_date 2026-01-09 is before issue_date 2026-01-10" in error


def test_invoice_accepts_due_date_on_issue_date_or_missing() -> None:
    Invoice.model_validate(invoice_data(due_date="2026-01-10"))
    assert Invoice.model_validate(invoice_data(due_date=None)).due_date is None


def test_invoice_reports_every_problem_in_one_error() -> None:
    text = rejection(Invoice, invoice_data(subtotal=90.0, total=1.0, due_date="2025-01-01"))
    assert "line items sum to 100.00 but subtotal is 90.00" in text
    assert "total is 1.00 but subtotal 90.00 + tax 19.00 = 109.00" in text
    assert "due_date 2025-01-01 is before issue_date 2026-01-10" in text


@pytest.mark.parametrize(
    ("field", "value"), [("quantity", 0), ("quantity", -1), ("unit_price", -0.01)]
)
def test_invoice_rejects_non_positive_quantity_and_negative_unit_price(
    field: str, value: float
) -> None:
    data = invoice_data()
    data["line_items"][0][field] = value
    assert f"line_items.0.{field}" in rejection(Invoice, data)


def test_invoice_rejects_negative_tax() -> None:
    assert "tax" in rejection(Invoice, invoice_data(tax=-1.0, total=99.0))


def test_invoice_normalises_currency_case() -> None:
    assert Invoice.model_validate(invoice_data(currency="usd")).currency == "USD"


@pytest.mark.parametrize("currency", ["US$", "EURO", "€", "dollars", "EU"])
def test_invoice_rejects_currency_that_is_not_three_letters(currency: str) -> None:
    assert "ISO 4217" in rejection(Invoice, invoice_data(currency=currency))
