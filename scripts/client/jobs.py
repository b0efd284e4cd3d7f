"""Single-document calls: /v1/jobs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from .base import BaseClient, segment
from .errors import ConflictError

# What a job is once a retry took: a re-sent retry finding it so was answered by the first.
RETRIED = frozenset({"queued", "running", "succeeded"})


class JobCalls(BaseClient):
    """The /v1/jobs routes."""

    def create_job(self, body: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        """POST /v1/jobs: one document (`schema`, `text` or `content_base64`, ...) as a job.

        Without `key` one is made up for this call, so a retry after a lost answer replays
        the first try's job (200) instead of making (and billing) a second one.
        """
        return self._post("/v1/jobs", body, key=key or f"job-{uuid.uuid4().hex}")

    def get_job(self, job_id: str) -> dict[str, Any]:
        """GET /v1/jobs/{id}: status, result or error, usage, timestamps."""
        return self._get(f"/v1/jobs/{segment(job_id)}")

    def list_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every job of GET /v1/jobs, oldest first, page after page.

        Filters: `batch_id`, `status`, and `limit` (jobs per page, at most 1000).
        """
        return self._pages("/v1/jobs", "items", filters)

    def retry_job(self, job_id: str) -> dict[str, Any]:
        """POST /v1/jobs/{id}/retry: queue a failed or cancelled job again; the job after it.

        The API refuses (409) to retry a job that is not failed or cancelled, which is what
        a re-send finds when the first try worked but its answer was lost: then the job is
        read and returned if it is queued, running or already succeeded.
        """
        try:
            return self._post(f"/v1/jobs/{segment(job_id)}/retry")
        except ConflictError as exc:
            if not exc.after_lost_answer:
                raise
            job = self.get_job(job_id)
            if job.get("status") not in RETRIED:
                raise
            return job
