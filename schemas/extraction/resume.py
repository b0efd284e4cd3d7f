"""Resume: contact details, skills, work history and education of one person."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from schemas.extraction.base import ExtractionModel, SummaryText

MIN_GRADUATION_YEAR = 1900
MAX_GRADUATION_YEAR = 2100


class Position(ExtractionModel):
    """One job held."""

    title: str = Field(description="Job title.")
    company: str = Field(description="Employer.")
    start_date: dt.date | None = Field(
        default=None,
        description="Start date (YYYY-MM-DD); use the first of the month if only month is given.",
    )
    end_date: dt.date | None = Field(
        default=None, description="End date (YYYY-MM-DD); null if this is the current job."
    )

    @model_validator(mode="after")
    def _check_dates(self) -> Position:
        # JSON Schema cannot compare two fields, so date order is checked only here.
        if (
            self.start_date is not None
            and self.end_date is not None
            and self.end_date < self.start_date
        ):
            raise ValueError(
                f"position {self.title!r} at {self.company!r}: end_date "
                f"{self.end_date.isoformat()} is before start_date {self.start_date.isoformat()}"
            )
        return self


class Education(ExtractionModel):
    """One degree or course of study."""

    institution: str = Field(description="School, college or university.")
    degree: str | None = Field(default=None, description='Degree earned, e.g. "BSc Physics".')
    graduation_year: int | None = Field(
        default=None,
        ge=MIN_GRADUATION_YEAR,
        le=MAX_GRADUATION_YEAR,
        description="Year of graduation (four digits), if given.",
    )


class Resume(ExtractionModel):
    """A resume or CV of one person."""

    name: str = Field(description="The candidate's full name.")
    email: str | None = Field(default=None, description="Email address, if given.")
    phone: str | None = Field(default=None, description="Phone number as written, if given.")
    summary: SummaryText = Field(
        description="A short professional summary of the candidate, based only on the resume."
    )
    skills: list[str] = Field(default_factory=list, description="Skills, one per entry.")
    experience: list[Position] = Field(
        default_factory=list, description="Jobs held, most recent first."
    )
    education: list[Education] = Field(default_factory=list, description="Education history.")
