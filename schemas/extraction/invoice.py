"""Invoice: vendor, line items and totals, with arithmetic checks phrased for a re-ask."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from schemas.extraction.base import CurrencyCode, ExtractionModel

# Money is compared to the cent; the epsilon absorbs binary float error (0.1 + 0.2).
CENT = 0.01
_EPS = 1e-9


def _money(value: float) -> str:
    return f"{value:.2f}"


def _plain(value: float) -> str:
    # Quantities and unit prices keep their precision ("33.333", "0.125") and never turn
    # into exponent notation ("1e+06"), which would confuse the re-ask.
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _within(actual: float, expected: float, tolerance: float) -> bool:
    return abs(actual - expected) <= tolerance + _EPS


class Party(ExtractionModel):
    """A business party named on an invoice."""

    name: str = Field(description="Legal or trading name.")
    address: str | None = Field(default=None, description="Postal address, if given.")
    tax_id: str | None = Field(
        default=None, description="VAT, GST, EIN or other tax identifier, if given."
    )


class LineItem(ExtractionModel):
    """One billed line of an invoice."""

    description: str = Field(description="What was billed, as written.")
    quantity: float = Field(gt=0, description="Number of units billed.")
    unit_price: float = Field(ge=0, description="Price of one unit, before tax.")
    amount: float = Field(description="Line total before tax: quantity times unit_price.")


class Invoice(ExtractionModel):
    """An invoice issued by a vendor."""

    vendor: Party = Field(description="The party issuing the invoice (the seller).")
    invoice_number: str = Field(description="The invoice number or identifier.")
    issue_date: dt.date = Field(description="Date the invoice was issued (YYYY-MM-DD).")
    due_date: dt.date | None = Field(
        default=None, description="Date payment is due (YYYY-MM-DD), if given."
    )
    line_items: list[LineItem] = Field(default_factory=list, description="Billed lines.")
    subtotal: float = Field(description="Sum of line amounts, before tax.")
    tax: float = Field(ge=0, description="Total tax charged.")
    total: float = Field(description="Amount payable: subtotal plus tax.")
    currency: CurrencyCode

    @model_validator(mode="after")
    def _check_consistency(self) -> Invoice:
        # Field constraints (bounds, currency pattern, date format) are in the JSON Schema
        # the provider sees; these relate fields to each other, which JSON Schema cannot
        # express, so they live only here (and in the prompt's words).
        # Every problem goes into one message: a re-ask that fixes them all at once is
        # cheaper than one round trip per problem, and low tiers allow a single re-ask.
        problems: list[str] = []
        for index, line in enumerate(self.line_items):
            expected = line.quantity * line.unit_price
            if not _within(line.amount, expected, CENT):
                problems.append(
                    f"line_items[{index}] ({line.description!r}): amount is "
                    f"{_money(line.amount)} but quantity {_plain(line.quantity)} * unit_price "
                    f"{_plain(line.unit_price)} = {_money(expected)}"
                )
        # An invoice that prints no itemisation has nothing to sum; demanding lines
        # would push the model to invent them.
        if self.line_items:
            lines_total = sum(line.amount for line in self.line_items)
            # Each printed line amount may be rounded by up to a cent.
            tolerance = CENT * len(self.line_items)
            if not _within(lines_total, self.subtotal, tolerance):
                problems.append(
                    f"line items sum to {_money(lines_total)} "
                    f"but subtotal is {_money(self.subtotal)}"
                )
        expected_total = self.subtotal + self.tax
        if not _within(self.total, expected_total, CENT):
            problems.append(
                f"total is {_money(self.total)} but subtotal {_money(self.subtotal)} "
                f"+ tax {_money(self.tax)} = {_money(expected_total)}"
            )
        if self.due_date is not None and self.due_date < self.issue_date:
            problems.append(
                f"due_date {self.due_date.isoformat()} is before "
                f"issue_date {self.issue_date.isoformat()}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self
