"""The trust core is pure: it loads no storage, Redis or engine code, and the engine not it."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.support.paths import REPO

FORBIDDEN = ("storage", "redis", "celery", "sqlalchemy", "tasks.engine", "tasks.worker")


def test_importing_the_trust_core_loads_no_storage_redis_or_engine_module() -> None:
    code = (
        "import sys, tasks.trust.assess, tasks.trust.verify, tasks.trust.confidence;"
        f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_no_engine_module_imports_the_trust_core() -> None:
    offenders = []
    for path in (REPO / "tasks" / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("tasks.trust")]
    assert offenders == []
