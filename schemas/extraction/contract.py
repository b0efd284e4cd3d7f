"""Contract: parties, dates, governing law and obligations, checked against each other."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from schemas.extraction.base import ExtractionModel, SummaryText


def _party_key(name: str) -> str:
    # Parties are matched case- and whitespace-insensitively: "ACME  Corp" is "Acme Corp".
    return " ".join(name.split()).casefold()


class ContractParty(ExtractionModel):
    """A party to the contract."""

    name: str = Field(description="The party's name as written in the contract.")
    role: str = Field(description='The party\'s role, e.g. "buyer", "licensor", "employee".')


class Obligation(ExtractionModel):
    """Something one party must do under the contract."""

    party: str = Field(description="Name of the obligated party, exactly as listed in parties.")
    description: str = Field(description="What the party must do.")
    due_date: dt.date | None = Field(
        default=None, description="Deadline (YYYY-MM-DD), if the contract gives one."
    )


class Contract(ExtractionModel):
    """A contract or agreement between two or more parties."""

    title: str = Field(description="The contract's title, or a short descriptive title.")
    parties: list[ContractParty] = Field(
        min_length=2, description="Every party to the contract (at least two)."
    )
    effective_date: dt.date | None = Field(
        default=None, description="Date the contract takes effect (YYYY-MM-DD), if given."
    )
    termination_date: dt.date | None = Field(
        default=None, description="Date the contract ends (YYYY-MM-DD), if given."
    )
    governing_law: str | None = Field(
        default=None, description='Jurisdiction whose law governs, e.g. "State of New York".'
    )
    obligations: list[Obligation] = Field(
        default_factory=list, description="Obligations the contract places on the parties."
    )
    renewal_terms: str | None = Field(
        default=None, description="How and when the contract renews, if it says."
    )
    summary: SummaryText = Field(description="A faithful summary of the contract's terms.")

    @model_validator(mode="after")
    def _check_consistency(self) -> Contract:
        # Date order and party membership relate fields to each other, which JSON Schema
        # cannot express: they stay in Python (minItems and date formats are in the schema).
        # All problems in one message, so a single re-ask can fix them together.
        problems: list[str] = []
        if (
            self.effective_date is not None
            and self.termination_date is not None
            and self.termination_date < self.effective_date
        ):
            problems.append(
                f"termination_date {self.termination_date.isoformat()} is before "
                f"effective_date {self.effective_date.isoformat()}"
            )
        known = {_party_key(p.name) for p in self.parties}
        listed = ", ".join(repr(p.name) for p in self.parties)
        for index, obligation in enumerate(self.obligations):
            if _party_key(obligation.party) not in known:
                problems.append(
                    f"obligations[{index}].party is {obligation.party!r}, which is not one "
                    f"of the parties ({listed})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self
