"""Real permissions: the walk as an unprivileged user (tests run as root, where modes do not
bite, so a child process drops to `nobody` after its imports)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO

NOBODY = 65534
CHILD = """
import json, os, sys
from scripts.ingest import limits, manifest
limits.server()  # read while the checked-in TOML is still ours to read
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
found = []
for raw in sys.argv[1:]:
    try:
        found += [[i.path, i.reason] for i in manifest.walk([raw])]
    except manifest.sources.SourceError as exc:
        found.append([raw, f"error: {exc}"])
print(json.dumps(found))
""".replace("NOBODY", str(NOBODY))


@pytest.fixture
def world() -> Iterator[Path]:
    """A folder anyone may enter (pytest's tmp_path is its owner's alone)."""
    root = Path(tempfile.mkdtemp(prefix="dq-walk-"))
    root.chmod(0o755)
    yield root
    for path in (root / "locked", root / "list-only"):
        if path.exists():
            path.chmod(0o755)
    shutil.rmtree(root)


def _walk(*paths: Path) -> dict[str, str | None]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {Path(path).name: reason for path, reason in json.loads(done.stdout)}


def test_an_unreadable_folder_is_an_input_and_a_file_inside_it_is_not_missing(
    world: Path,
) -> None:
    (world / "a.txt").write_text("readable")
    for name, mode in (("locked", 0o000), ("list-only", 0o311)):
        (world / name).mkdir()
        (world / name / "inside.txt").write_text("hidden by the mode")
        (world / name / "inside.txt").chmod(0o644)
        (world / name).chmod(mode)
    assert _walk(world) == {
        "a.txt": None,
        "list-only": "cannot read folder: Permission denied",
        "locked": "cannot read folder: Permission denied",
    }
    # Named: inside a folder that cannot be searched, a file may exist; it cannot be read.
    assert _walk(world / "locked" / "inside.txt") == {
        "inside.txt": "cannot read: Permission denied"
    }
    # A folder that can be searched but not listed still gives a named file.
    assert _walk(world / "list-only" / "inside.txt") == {"inside.txt": None}
    assert os.geteuid() != 0 or (world / "locked").stat().st_mode & 0o777 == 0
