"""Mount the console on the API: its pages and its static files (kept out of the package's
__init__, so api.errors can import the console's error pages without loading every page)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.console import (
    batch_pages,
    diff_page,
    extractors_page,
    infer_page,
    job_page,
    review_page,
    signin,
    usage_page,
)
from api.console.render import STATIC_DIR, STATIC_URL


def install(app: FastAPI) -> None:
    """Mount the console's pages and its static files."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(signin.router)
    app.include_router(batch_pages.router)
    app.include_router(job_page.router)
    app.include_router(review_page.router)
    app.include_router(usage_page.router)
    app.include_router(infer_page.router)  # before /console/extractors/{name}
    app.include_router(extractors_page.router)
    app.include_router(diff_page.router)
