"""tasks.engine.instructor_once: instructor's async-validator check, once per model class."""

from __future__ import annotations

from typing import Any

import pytest
from instructor.v2.core import patch
from instructor.v2.validation import async_validators
from instructor.v2.validation.async_validators import async_field_validator
from pydantic import BaseModel

from tasks.engine import instructor_once


class Plain(BaseModel):
    total: int


class WithAsync(BaseModel):
    total: int

    @async_field_validator("total")
    async def check_total(self, value: int) -> None:
        """An instructor async validator: the runtime refuses such models."""


def test_instructor_looks_the_check_up_through_the_wrapper_once_installed() -> None:
    instructor_once.install()
    assert async_validators.reject_async_validators is instructor_once.reject_once
    assert patch.reject_async_validators is instructor_once.reject_once  # type: ignore[attr-defined]


def test_a_model_class_is_walked_once_however_many_calls_check_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Fresh(BaseModel):
        name: str

    walked: list[Any] = []
    monkeypatch.setattr(instructor_once, "_check", walked.append)
    for _ in range(3):
        instructor_once.reject_once(Fresh)
    assert walked == [Fresh]


def test_a_model_with_async_validators_is_refused_on_every_call() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="async validators are not supported"):
            instructor_once.reject_once(WithAsync)


def test_a_typing_form_is_checked_each_time_and_passes_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walked: list[Any] = []
    monkeypatch.setattr(instructor_once, "_check", walked.append)
    instructor_once.reject_once(list[Plain])
    instructor_once.reject_once(list[Plain])
    assert walked == [list[Plain], list[Plain]]
