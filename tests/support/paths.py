"""Where the repository lives, for tests that read its files (docs, packages, samples)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
