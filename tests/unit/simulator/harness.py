"""What the simulator tests share: a document, schemas to extract, and clients aimed at it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import anthropic
import httpx
import openai
from pydantic import BaseModel, Field, model_validator

from scripts.simulator import BackgroundSimulator

DOC = (
    "INVOICE 2291 from Acme Widgets Corporation to Globex Industries for consulting "
    "services rendered in March: design review, integration testing and training."
)


class LineItem(BaseModel):
    """One invoice line."""

    description: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price: float = Field(ge=0)
    amount: float


class Invoice(BaseModel):
    """An invoice whose numbers must add up and whose dates must be in order."""

    vendor: str = Field(min_length=1)
    vendor_email: str | None = None
    status: Literal["paid", "open", "overdue"]
    issue_date: dt.date
    due_date: dt.date
    line_items: list[LineItem] = Field(min_length=1, max_length=5)
    subtotal: float
    tax: float = Field(ge=0)
    total: float

    @model_validator(mode="after")
    def numbers_add_up(self) -> Invoice:
        """Amounts are quantity x price, they sum to the subtotal, subtotal + tax = total."""
        if self.issue_date > self.due_date:
            raise ValueError("issue_date is after due_date")
        for item in self.line_items:
            if abs(item.amount - round(item.quantity * item.unit_price, 2)) > 0.005:
                raise ValueError("amount != quantity * unit_price")
        if abs(sum(i.amount for i in self.line_items) - self.subtotal) > 0.01:
            raise ValueError("line items do not sum to the subtotal")
        if abs(self.subtotal + self.tax - self.total) > 0.01:
            raise ValueError("subtotal + tax != total")
        return self


class Party(BaseModel):
    """A contract party."""

    name: str
    role: Literal["buyer", "seller"]


class Contract(BaseModel):
    """A contract with nested models, optional fields and ordered dates."""

    title: str
    parties: list[Party] = Field(min_length=2, max_length=4)
    effective_date: dt.date
    termination_date: dt.date
    renewal_months: int | None = Field(default=None, ge=1, le=24)
    auto_renew: bool

    @model_validator(mode="after")
    def dates_in_order(self) -> Contract:
        """The contract ends after it starts."""
        if self.effective_date > self.termination_date:
            raise ValueError("termination before effective date")
        return self


def configure(sim: BackgroundSimulator, **changes: Any) -> dict[str, Any]:
    """POST /sim/config and return the new state."""
    response = httpx.post(f"{sim.base_url}/sim/config", json=changes)
    response.raise_for_status()
    return dict(response.json())


def stats(sim: BackgroundSimulator) -> dict[str, Any]:
    """GET /sim/stats."""
    return dict(httpx.get(f"{sim.base_url}/sim/stats").json())


def recorded(sim: BackgroundSimulator) -> list[dict[str, Any]]:
    """The request bodies the simulator kept, oldest first."""
    return list(httpx.get(f"{sim.base_url}/sim/requests").json())


def openai_client(sim: BackgroundSimulator, **kw: Any) -> openai.OpenAI:
    """The real OpenAI SDK pointed at the simulator, no SDK retries."""
    return openai.OpenAI(base_url=sim.openai_base_url, api_key="sk-sim", max_retries=0, **kw)


def anthropic_client(sim: BackgroundSimulator, **kw: Any) -> anthropic.Anthropic:
    """The real Anthropic SDK pointed at the simulator, no SDK retries."""
    return anthropic.Anthropic(base_url=sim.base_url, api_key="sk-sim", max_retries=0, **kw)


def user(text: str) -> list[Any]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]


def billed(sim: BackgroundSimulator, model: str) -> dict[str, Any]:
    """The tokens the simulator's usage ledger holds for `model`."""
    return dict(stats(sim)["usage"][model])
