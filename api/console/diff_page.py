"""Diff two batches: pick them, then see what changed per field and per document."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console.auth import ViewerDep
from api.console.owned import owned_batch
from api.console.render import page
from api.deps import ReadSessionDep
from api.views.diff_walk import DiffWalk, first_page
from storage import batch_pages

router = APIRouter(prefix="/console/diff", include_in_schema=False)
SHOWN = 200  # document lines shown; the summary counts them all
CHOICES = 50


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


@router.get("", response_class=HTMLResponse)
def diff_view(
    request: Request, viewer: ViewerDep, session: ReadSessionDep, batch: str = "", against: str = ""
) -> Response:
    """The two-batch picker, and the diff of the chosen pair (`against` is the older run)."""
    listed = batch_pages.list_batches(session=session, tenant_id=viewer.tenant.id, limit=CHOICES)
    context: dict[str, Any] = {
        "viewer": viewer,
        "csrf": viewer.csrf,
        "choices": listed.batches,
        "batch": batch,
        "against": against,
        "error": "",
        "summary": None,
        "lines": [],
    }
    mine, theirs = _uuid(batch), _uuid(against)
    if batch or against:
        if mine is None or theirs is None:
            context["error"] = "choose two batches"
        elif mine == theirs:
            context["error"] = "choose two different batches"
    if mine and theirs and not context["error"]:
        owned_batch(session, viewer, mine)  # a 404 page for another tenant's batch
        owned_batch(session, viewer, theirs)
        first = first_page(session, tenant_id=viewer.tenant.id, batch_id=mine, against=theirs)
        walk = DiffWalk(tenant_id=viewer.tenant.id, batch_id=mine, against=theirs, first=first)
        shown: list[dict[str, Any]] = []
        for lines in walk.pages():
            shown.extend(lines[: SHOWN - len(shown)])
        context.update(summary=walk.summary_line(), lines=shown, more=SHOWN)
    status = 422 if context["error"] else 200
    return page(request, "diff.html", status=status, **context)
