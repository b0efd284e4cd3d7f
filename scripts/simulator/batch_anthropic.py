"""Anthropic Message Batches: /v1/messages/batches, each item answered as /v1/messages would."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scripts.simulator.batch_core import DAY_S, Job, Settled, advance, iso
from scripts.simulator.calls import new_id

if TYPE_CHECKING:
    from scripts.simulator.app import Provider, Simulator

CUSTOM_ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1024 * 1024


class AnthropicBatches:
    """In-memory Message Batches served over Anthropic's wire format."""

    def __init__(self, sim: Simulator, provider: Provider) -> None:
        self.sim = sim
        self.provider = provider
        self.batches: dict[str, Job] = {}

    def routes(self) -> list[Route]:
        """The Starlette routes of the Message Batches API."""
        base = "/v1/messages/batches"
        return [
            Route(base, self.root, methods=["GET", "POST"]),
            Route(base + "/{batch_id}", self.one, methods=["GET", "DELETE"]),
            Route(base + "/{batch_id}/cancel", self.cancel, methods=["POST"]),
            Route(base + "/{batch_id}/results", self.results, methods=["GET"]),
        ]

    def _error(self, status: int, message: str) -> Response:
        body = self.provider.error_body(status, message, None)
        return JSONResponse(body, status_code=status, headers={"request-id": new_id("req_01")})

    async def root(self, request: Request) -> Response:
        """POST creates a batch; GET lists them, newest first, paged by before_id/after_id."""
        if request.method == "POST":
            return await self.create(request)
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            return self._error(400, "limit: Input should be a valid integer")
        if not 1 <= limit <= 1000:
            return self._error(400, "limit: Input should be between 1 and 1000")
        newest = sorted(self.batches.values(), key=lambda j: j.created, reverse=True)
        ids = [j.batch_id for j in newest]
        before, after = request.query_params.get("before_id"), request.query_params.get("after_id")
        if before in ids:
            stop = ids.index(str(before))
            start = max(0, stop - limit)
            has_more = start > 0
        else:
            start = ids.index(str(after)) + 1 if after in ids else 0
            stop = start + limit
            has_more = stop < len(ids)
        data = [self._render(j, request) for j in newest[start:stop]]
        return JSONResponse(
            {
                "data": data,
                "has_more": has_more,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    async def create(self, request: Request) -> Response:
        """POST /v1/messages/batches: envelope checks now, each request's params when run."""
        raw = await request.body()
        if len(raw) > MAX_BYTES:
            return self._error(413, f"Request exceeds the maximum size of {MAX_BYTES} bytes.")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._error(400, "The request body is not valid JSON.")
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return self._error(400, "requests: List should have at least 1 item")
        if len(requests) > MAX_REQUESTS:
            message = f"requests: List should have at most {MAX_REQUESTS} items"
            return self._error(400, message)
        items: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for i, entry in enumerate(requests):
            custom_id = entry.get("custom_id") if isinstance(entry, dict) else None
            if not isinstance(custom_id, str) or not CUSTOM_ID_RE.fullmatch(custom_id):
                message = (
                    f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                )
                return self._error(400, message)
            if custom_id in seen:
                message = f"requests.{i}.custom_id: Duplicate custom_id '{custom_id}'"
                return self._error(400, message)
            if not isinstance(entry.get("params"), dict):
                return self._error(400, f"requests.{i}.params: Field required")
            seen.add(custom_id)
            items.append((custom_id, entry["params"]))
        batch_id = new_id("msgbatch_01", 22)
        job = Job("anthropic", batch_id, items, self.sim.state.batch_delay_s, validates=False)
        self.batches[batch_id] = job
        self.sim.stats.batches_created += 1
        # The batch exists from here on; a hung answer leaves the caller without its id.
        from scripts.simulator.app import sleep_or_disconnect  # app imports this module

        await sleep_or_disconnect(request.receive, self.sim.state.batch_create_hang_s)
        return JSONResponse(self._render(job, request))

    def _lookup(self, request: Request) -> Job | Response:
        found = self.batches.get(request.path_params["batch_id"])
        if found is None:
            return self._error(404, f"MessageBatch {request.path_params['batch_id']} not found")
        return found

    async def one(self, request: Request) -> Response:
        """GET or DELETE /v1/messages/batches/{id}; only an ended batch may be deleted."""
        job = self._lookup(request)
        if isinstance(job, Response):
            return job
        rendered = self._render(job, request)
        if request.method == "GET":
            return JSONResponse(rendered)
        if rendered["processing_status"] != "ended":
            message = "Message batches can only be deleted once they have finished processing."
            return self._error(400, message)
        del self.batches[job.batch_id]
        return JSONResponse({"id": job.batch_id, "type": "message_batch_deleted"})

    async def cancel(self, request: Request) -> Response:
        """POST /v1/messages/batches/{id}/cancel: canceling now, ended shortly after."""
        job = self._lookup(request)
        if isinstance(job, Response):
            return job
        job.cancel(time.time())
        return JSONResponse(self._render(job, request))

    async def results(self, request: Request) -> Response:
        """GET /v1/messages/batches/{id}/results: one JSON line per request, once ended."""
        job = self._lookup(request)
        if isinstance(job, Response):
            return job
        if self._render(job, request)["processing_status"] != "ended":
            return self._error(400, f"MessageBatch {job.batch_id} has not ended yet")
        lines = [
            json.dumps({"custom_id": cid, "result": _result(job.settled[i])}) + "\n"
            for i, (cid, _) in enumerate(job.items)
        ]
        return Response("".join(lines).encode(), media_type="application/binary")

    def _render(self, job: Job, request: Request) -> dict[str, Any]:
        """The MessageBatch object as of now; results_url is absolute, on this request's host."""
        now = time.time()
        advance(job, self.sim, self.provider, now)
        status = "ended" if job.done else "in_progress" if job.cancel_at is None else "canceling"
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if job.done:
            for settled in job.settled.values():
                counts[settled.kind] += 1
        else:
            counts["processing"] = len(job.items)  # the API counts nothing else until the end
        base = str(request.base_url).rstrip("/")
        return {
            "id": job.batch_id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "ended_at": iso(job.end) if job.done else None,
            "created_at": iso(job.created),
            "expires_at": iso(job.created + DAY_S),
            "archived_at": None,
            "cancel_initiated_at": iso(job.cancel_at),
            "results_url": f"{base}/v1/messages/batches/{job.batch_id}/results"
            if job.done
            else None,
        }


def _result(settled: Settled) -> dict[str, Any]:
    """One result line's `result`: succeeded, errored (the realtime error body), canceled..."""
    if settled.kind == "succeeded":
        return {"type": "succeeded", "message": settled.body}
    if settled.kind == "errored":
        error = {k: v for k, v in dict(settled.body).items() if k != "request_id"}
        return {"type": "errored", "error": error}
    return {"type": settled.kind}
