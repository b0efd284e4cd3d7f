"""A real browser for the console tests: Playwright driving Debian's chromium (`make chromium`).

Playwright never downloads a browser here: it starts /usr/bin/chromium through
`executable_path`, headless, with the background-networking features off (this machine's
network is closed, and Chromium's own calls home would only fail and slow the start).
Screenshots go to `$DOCQUEUE_ARTIFACTS/console/` (default `artifacts/console/`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
FLAGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium (the Makefile installs it); a clear error when it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("chromium is not installed: run `make chromium`")
    return found


def launch(playwright: Playwright) -> Browser:
    """Headless chromium."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=FLAGS)


def artifacts() -> Path:
    """Where screenshots are kept for CI to collect."""
    where = Path(os.environ.get("DOCQUEUE_ARTIFACTS", "artifacts")) / "console"
    where.mkdir(parents=True, exist_ok=True)
    return where


def screenshots(page: Page, name: str) -> list[Path]:
    """The current page at both sizes, as `{name}-desktop.png` and `{name}-phone.png`.

    Fails when the page is wider than either viewport: readable means no sideways scroll
    (wide tables scroll inside their own box instead).
    """
    saved = []
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        path = artifacts() / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
        assert not overflows(page), f"{name} is wider than {width}x{height}"
    page.set_viewport_size({"width": 1280, "height": 800})
    return saved


def overflows(page: Page) -> bool:
    """Whether the page is wider than the viewport (it would scroll sideways)."""
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"))
