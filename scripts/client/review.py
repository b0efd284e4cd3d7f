"""Review calls: the queue of jobs waiting for a person, reviews, and reviewed labels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import BaseClient, segment


class ReviewCalls(BaseClient):
    """The /v1/review routes and POST /v1/jobs/{id}/review."""

    def review_page(
        self,
        *,
        batch_id: str | None = None,
        extractor: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """GET /v1/review: one page of pending jobs (`items`, `next_cursor`, `pending`)."""
        params = {"batch_id": batch_id, "extractor": extractor, "limit": limit, "cursor": cursor}
        return self._get("/v1/review", params)

    def review_queue(
        self,
        *,
        batch_id: str | None = None,
        extractor: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every job waiting for review, with its fields, page after page (`limit`: per page)."""
        params = {"batch_id": batch_id, "extractor": extractor, "limit": limit}
        return self._pages("/v1/review", "items", params)

    def review_job(
        self,
        job_id: str,
        corrections: Mapping[str, Any] | None = None,
        *,
        approve: bool = True,
    ) -> dict[str, Any]:
        """POST /v1/jobs/{id}/review: set `corrections` ({pointer: value}), approve; the job.

        Safe to replay: the corrections are values, not changes, so sending them twice
        leaves the job as sending them once.
        """
        body = {"corrections": dict(corrections or {}), "approve": approve}
        return self._post(f"/v1/jobs/{segment(job_id)}/review", body)

    def review_labels(
        self, extractor: str, *, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every reviewed job of an extractor with its final result, page after page.

        GET /v1/review/labels: each item has `job_id`, `batch_id`, `idempotency_key`,
        `filename`, `extractor`, `version`, `review_state`, `result` and `reviewed_at`.
        """
        params = {"extractor": extractor, "limit": limit}
        return self._pages("/v1/review/labels", "items", params)
