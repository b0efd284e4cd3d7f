"""The house rules that no linter checks: small modules, one name for the scheduler."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import REPO

PACKAGES = ("api", "tasks", "schemas", "storage", "scripts", "tests")
MAX_LINES = 300


def _modules() -> list[str]:
    return sorted(
        str(path.relative_to(REPO)) for pkg in PACKAGES for path in (REPO / pkg).rglob("*.py")
    )


def test_the_project_has_modules_to_check() -> None:
    assert len(_modules()) > 100


@pytest.mark.parametrize("module", _modules())
def test_every_module_is_at_most_300_lines(module: str) -> None:
    lines = (REPO / module).read_text().count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


def test_the_scheduler_process_has_one_name_everywhere() -> None:
    # "dispatcher" was its old name in half the code; only the verb "dispatch" remains.
    offenders = [
        module
        for module in _modules()
        if module != "tests/unit/config/test_house_rules.py"
        and re.search(r"\bdispatcher\b", (REPO / module).read_text(), re.IGNORECASE)
    ]
    assert offenders == []
