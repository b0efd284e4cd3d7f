"""The top-level packages have generic names: prove each one is imported from this repo."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.support.paths import REPO


@pytest.mark.parametrize("name", ["api", "tasks", "schemas", "storage", "scripts", "tests"])
def test_package_is_imported_from_this_repo(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == REPO / name


def test_every_source_folder_is_a_package() -> None:
    skip = {"__pycache__", "samples"}
    for top in ("api", "tasks", "schemas", "storage", "scripts", "tests"):
        for folder in [REPO / top, *(p for p in (REPO / top).rglob("*") if p.is_dir())]:
            if folder.name in skip or any(part in skip for part in folder.parts):
                continue
            if any(folder.glob("*.py")):
                assert (folder / "__init__.py").exists(), f"{folder} lacks __init__.py"


def test_celery_lists_its_task_modules_explicitly() -> None:
    from tasks.celery.app import app

    assert "tasks.celery.extract" in app.conf.include
