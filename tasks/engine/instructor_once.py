"""instructor's check for async validators, run once per response model, not per call.

instructor (1.17) walks the whole response model, every field and base class, looking for
its async validator markers on each `create` and again while preparing the request:
profiled at about 5% of a worker's CPU. Our response models are classes built once and
never changed, so one walk per class gives the same answer. instructor offers no switch
for this, so its function is replaced where its callers look it up: the client imports it
from `instructor.v2.validation.async_validators` at call time, `instructor.v2.core.patch`
once at import.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from instructor.v2.core import patch
from instructor.v2.validation import async_validators

_check = async_validators.reject_async_validators
_checked: weakref.WeakSet[type] = weakref.WeakSet()  # a class that passed once passes again
_lock = threading.Lock()


def reject_once(response_model: Any) -> None:
    """instructor's `reject_async_validators`, remembered for each class that passed."""
    if not isinstance(response_model, type):
        _check(response_model)  # a typing form (list[X], a union): cheap, not remembered
        return
    with _lock:
        if response_model in _checked:
            return
    _check(response_model)  # raises ValueError for a model with async validators
    with _lock:
        _checked.add(response_model)


def install() -> None:
    """Route instructor's per-call check through `reject_once` (idempotent)."""
    async_validators.reject_async_validators = reject_once
    patch.reject_async_validators = reject_once  # type: ignore[attr-defined]
