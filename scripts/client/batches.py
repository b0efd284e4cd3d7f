"""Batch calls: submit, read, list, wait, results, cancel, retry, rerun and diff."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .base import BaseClient, segment, when_param
from .errors import DocqueueError, WaitTimeoutError
from .lanes import LaneChoice, lane_fields
from .models import BatchSummary
from .polling import polls


class BatchCalls(BaseClient):
    """The /v1/batches routes."""

    def create_batch(self, body: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        """POST /v1/batches (JSON); `key` makes a re-send return and fill the same batch."""
        return self._post("/v1/batches", body, key=key)

    def submit_batch(
        self,
        documents: Iterable[Mapping[str, Any] | str],
        *,
        schema: str,
        tier: str = "auto",
        key: str | None = None,
        webhook_url: str | None = None,
        lane: LaneChoice = "realtime",
        deadline: str | dt.datetime | dt.timedelta | None = None,
    ) -> dict[str, Any]:
        """Submit documents (`{"text"}` or `{"content_base64"}` dicts, or plain strings).

        `lane`: realtime, batch (half price, within the provider's window) or auto (batch
        unless `deadline` is too near). `deadline`: RFC 3339 with an offset, an aware
        datetime, or a duration from now (`24h`, a timedelta).
        Without `key` one is made up for this call, so a retry after a lost answer returns
        the batch the first try made instead of a second one.
        """
        docs = [{"text": d} if isinstance(d, str) else dict(d) for d in documents]
        body: dict[str, Any] = {"schema": schema, "tier": tier, "documents": docs}
        if webhook_url is not None:
            body["webhook_url"] = webhook_url
        body.update(lane_fields(lane, deadline))
        return self.create_batch(body, key=key or f"submit-{uuid.uuid4().hex}")

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        """GET /v1/batches/{id}: counts per status, progress, usage."""
        return self._get(f"/v1/batches/{segment(batch_id)}")

    def list_batches(
        self,
        *,
        status: str | None = None,
        created_after: str | dt.datetime | dt.date | None = None,
        created_before: str | dt.datetime | dt.date | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every batch of GET /v1/batches, page after page (`limit`: batches per page).

        Stop early with itertools.islice; dates are midnight UTC.
        """
        params = {
            "status": status,
            "created_after": when_param(created_after),
            "created_before": when_param(created_before),
            "limit": limit,
        }
        return self._pages("/v1/batches", "data", params)

    def wait_batch(
        self,
        batch_id: str,
        *,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        poll_s: float = 2.0,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Poll until the batch has `finished_at`, calling `on_progress(batch)` each poll.

        Returns the finished batch; WaitTimeoutError (a TimeoutError) once `timeout_s` has
        passed, time spent in requests included: each poll's request (and its retries)
        ends by the timeout.
        """
        started, last = self._clock(), dict[str, Any]()
        path = f"/v1/batches/{segment(batch_id)}"
        try:
            for left in polls(timeout_s, max_s=poll_s, sleep=self._sleep, clock=self._clock):
                last = self._get(path, within=left)
                if on_progress is not None:
                    on_progress(last)
                if last.get("finished_at"):
                    return last
        except DocqueueError as exc:
            # A retryable failure the timeout cut short is the timeout; any other, itself.
            if timeout_s is None or not exc.retryable or self._clock() - started < timeout_s:
                raise
            raise self._not_finished(batch_id, timeout_s, last) from exc
        raise self._not_finished(batch_id, timeout_s or 0.0, last)

    @staticmethod
    def _not_finished(batch_id: str, timeout_s: float, last: dict[str, Any]) -> WaitTimeoutError:
        seen = BatchSummary.from_api(last)
        so_far = f"{seen.done} of {seen.total} jobs done" if last else "no answer yet"
        return WaitTimeoutError(
            f"batch {batch_id} not finished after {timeout_s:g} s ({so_far})", last=last
        )

    def results(self, batch_id: str) -> Iterator[dict[str, Any]]:
        """Stream GET /v1/batches/{id}/results, one job per item."""
        path = f"/v1/batches/{segment(batch_id)}/results"
        return self._lines(path, f"results download of {batch_id}")

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        """POST /v1/batches/{id}/cancel: jobs not started are cancelled; the batch after it.

        Safe to replay: cancelling twice cancels nothing more and answers the batch (never a
        409), so a re-send after a lost answer reports the first try's work.
        """
        return self._post(f"/v1/batches/{segment(batch_id)}/cancel")

    def retry_batch(self, batch_id: str) -> dict[str, Any]:
        """POST /v1/batches/{id}/retry: failed and cancelled jobs queued again; the batch after.

        Safe to replay: the second time the jobs are already queued, and the answer is the
        batch (never a 409).
        """
        return self._post(f"/v1/batches/{segment(batch_id)}/retry")

    def rerun_batch(self, batch_id: str, schema: str) -> dict[str, Any]:
        """POST /v1/batches/{id}/rerun: the same documents as a new batch under `schema`.

        One Idempotency-Key for every re-send: a replay after a lost answer returns the
        batch the first request made, so it is retried like any safe call.
        """
        path = f"/v1/batches/{segment(batch_id)}/rerun"
        return self._post(path, {"schema": schema}, key=f"rerun-{uuid.uuid4().hex}")

    def diff_summary(self, batch_id: str, against: str) -> dict[str, Any]:
        """GET /v1/batches/{id}/diff?format=summary: change counts per field."""
        params = {"against": against, "format": "summary"}
        return self._get(f"/v1/batches/{segment(batch_id)}/diff", params)

    def diff_lines(self, batch_id: str, against: str) -> Iterator[dict[str, Any]]:
        """Stream GET /v1/batches/{id}/diff: one line per document, then the summary."""
        path, what = f"/v1/batches/{segment(batch_id)}/diff", f"diff of {batch_id}"
        return self._lines(path, what, params={"against": against})
