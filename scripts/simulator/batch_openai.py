"""OpenAI Files and Batches endpoints: /v1/files and /v1/batches, answers as realtime gives."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scripts.simulator.batch_core import DAY_S, Job, advance
from scripts.simulator.batch_files import (
    ENDPOINT,
    PURPOSES,
    StoredFile,
    check_input,
    new_file,
    parse_multipart,
    result_lines,
    valid_metadata,
)
from scripts.simulator.calls import new_id

if TYPE_CHECKING:
    from scripts.simulator.app import Provider, Simulator


@dataclass
class OpenAIBatch:
    """One batch: its job, metadata and the files it produced."""

    job: Job
    input_file_id: str
    metadata: dict[str, str] | None
    model: str | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None


class OpenAIBatches:
    """In-memory files and batches served over OpenAI's wire format."""

    def __init__(self, sim: Simulator, provider: Provider) -> None:
        self.sim = sim
        self.provider = provider
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, OpenAIBatch] = {}

    def routes(self) -> list[Route]:
        """The Starlette routes of the Files and Batches APIs."""
        return [
            Route("/v1/files", self.upload, methods=["POST"]),
            Route("/v1/files/{file_id}", self.file, methods=["GET", "DELETE"]),
            Route("/v1/files/{file_id}/content", self.content, methods=["GET"]),
            Route("/v1/batches", self.batches_root, methods=["GET", "POST"]),
            Route("/v1/batches/{batch_id}", self.retrieve, methods=["GET"]),
            Route("/v1/batches/{batch_id}/cancel", self.cancel, methods=["POST"]),
        ]

    def _error(self, status: int, message: str, param: str | None = None) -> Response:
        body = self.provider.error_body(status, message, param)
        return JSONResponse(body, status_code=status, headers={"x-request-id": new_id("req_")})

    async def upload(self, request: Request) -> Response:
        """POST /v1/files: a multipart upload with `file` and `purpose`."""
        fields = parse_multipart(request.headers.get("content-type", ""), await request.body())
        purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if "file" not in fields:
            return self._error(400, "Missing required parameter: 'file'.", "file")
        if purpose not in PURPOSES:
            return self._error(400, f"Invalid value for 'purpose': '{purpose}'.", "purpose")
        filename, data = fields["file"]
        filename = filename or "upload"
        if purpose == "batch":
            if not filename.endswith(".jsonl"):
                return self._error(400, "Invalid file format for Batch API. Must be .jsonl", "file")
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return self._error(400, "The file must be UTF-8 encoded JSONL.", "file")
        stored = new_file(filename, purpose, data)
        self.files[stored.id] = stored
        return JSONResponse(stored.to_json())

    def _file(self, request: Request) -> StoredFile | Response:
        found = self.files.get(request.path_params["file_id"])
        if found is None:
            message = f"No such File object: {request.path_params['file_id']}"
            return self._error(404, message, "id")
        return found

    async def file(self, request: Request) -> Response:
        """GET or DELETE /v1/files/{id}."""
        found = self._file(request)
        if isinstance(found, Response):
            return found
        if request.method == "DELETE":
            del self.files[found.id]
            return JSONResponse({"id": found.id, "object": "file", "deleted": True})
        return JSONResponse(found.to_json())

    async def content(self, request: Request) -> Response:
        """GET /v1/files/{id}/content: the raw bytes."""
        found = self._file(request)
        if isinstance(found, Response):
            return found
        return Response(found.data, media_type="application/octet-stream")

    async def batches_root(self, request: Request) -> Response:
        """POST creates a batch; GET lists them, newest first, paged by `after`."""
        if request.method == "POST":
            return await self.create(request)
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            return self._error(400, "Invalid 'limit': expected an integer.", "limit")
        if not 1 <= limit <= 100:
            return self._error(400, "Invalid 'limit': must be within 1..100.", "limit")
        newest = sorted(self.batches.values(), key=lambda b: b.job.created, reverse=True)
        after = request.query_params.get("after")
        ids = [b.job.batch_id for b in newest]
        start = ids.index(after) + 1 if after in ids else 0
        page = newest[start : start + limit]
        data = [self._render(b) for b in page]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": start + limit < len(newest),
            }
        )

    async def create(self, request: Request) -> Response:
        """POST /v1/batches."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._error(400, "We could not parse the JSON body of your request.")
        if body.get("endpoint") != ENDPOINT:
            message = f"Invalid value for 'endpoint': the simulator supports only '{ENDPOINT}'."
            return self._error(400, message, "endpoint")
        if body.get("completion_window") != "24h":
            message = "Invalid value for 'completion_window': only '24h' is supported."
            return self._error(400, message, "completion_window")
        metadata = body.get("metadata")
        if metadata is not None and not valid_metadata(metadata):
            message = "Invalid 'metadata': up to 16 string pairs (keys <= 64, values <= 512)."
            return self._error(400, message, "metadata")
        source = self.files.get(str(body.get("input_file_id")))
        if source is None:
            message = f"No such File object: {body.get('input_file_id')}"
            return self._error(404, message, "input_file_id")
        if source.purpose != "batch":
            message = "The input file must be uploaded with purpose 'batch'."
            return self._error(400, message, "input_file_id")
        checked = check_input(source.data)
        batch_id = "batch_" + new_id("", 32).lower()
        job = Job(
            "openai",
            batch_id,
            [] if checked.errors else checked.items,
            self.sim.state.batch_delay_s,
            validates=True,
        )
        batch = OpenAIBatch(job, source.id, metadata, checked.model, checked.errors)
        self.batches[batch_id] = batch
        self.sim.stats.batches_created += 1
        # The batch exists from here on; a hung answer leaves the caller without its id.
        from scripts.simulator.app import sleep_or_disconnect  # app imports this module

        await sleep_or_disconnect(request.receive, self.sim.state.batch_create_hang_s)
        return JSONResponse(self._render(batch))

    def _lookup(self, request: Request) -> OpenAIBatch | Response:
        found = self.batches.get(request.path_params["batch_id"])
        if found is None:
            return self._error(404, f"No batch found with id '{request.path_params['batch_id']}'.")
        return found

    async def retrieve(self, request: Request) -> Response:
        """GET /v1/batches/{id}."""
        found = self._lookup(request)
        return found if isinstance(found, Response) else JSONResponse(self._render(found))

    async def cancel(self, request: Request) -> Response:
        """POST /v1/batches/{id}/cancel: cancelling now, cancelled shortly after."""
        found = self._lookup(request)
        if isinstance(found, Response):
            return found
        status = self._render(found)["status"]
        if status not in ("validating", "in_progress", "finalizing"):
            return self._error(409, f"Cannot cancel a batch with status '{status}'.")
        found.job.cancel(time.time())
        return JSONResponse(self._render(found))

    def _render(self, batch: OpenAIBatch) -> dict[str, Any]:
        """The Batch object as of now (settling due items and writing files at the end)."""
        job, now = batch.job, time.time()
        advance(job, self.sim, self.provider, now)
        if job.done and batch.output_file_id is None and batch.error_file_id is None:
            self._write_files(batch)
        kinds = [s.kind for s in job.settled.values()]
        stamp: dict[str, int | None] = dict.fromkeys(
            (
                "in_progress_at",
                "finalizing_at",
                "completed_at",
                "failed_at",
                "expired_at",
                "cancelling_at",
                "cancelled_at",
            )
        )
        started = now >= job.start
        if batch.errors:
            status = "failed" if started else "validating"
            stamp["failed_at"] = int(job.start) if started else None
        else:
            stamp["in_progress_at"] = int(job.start) if started else None
            if job.cancel_at is not None:
                stamp["cancelling_at"] = int(job.cancel_at)
                status = "cancelled" if job.done else "cancelling"
                stamp["cancelled_at"] = int(job.end) if job.done else None
            elif job.done:
                stamp["finalizing_at"] = int(job.finalize)
                status = "expired" if "expired" in kinds else "completed"
                stamp["expired_at" if status == "expired" else "completed_at"] = int(job.end)
            elif now >= job.finalize:
                stamp["finalizing_at"] = int(job.finalize)
                status = "finalizing"
            else:
                status = "in_progress" if started else "validating"
        answers = [s.answer for s in job.settled.values() if s.answer is not None]
        input_tokens = sum(a.input_tokens for a in answers)
        output_tokens = sum(a.output_tokens for a in answers)
        return {
            "id": job.batch_id,
            "object": "batch",
            "endpoint": ENDPOINT,
            "model": batch.model,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": int(job.created),
            "expires_at": int(job.created) + DAY_S,
            **stamp,
            "request_counts": {
                "total": len(job.items),
                "completed": kinds.count("succeeded"),
                "failed": kinds.count("errored") + kinds.count("expired"),
            },
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
            "metadata": batch.metadata,
        }

    def _write_files(self, batch: OpenAIBatch) -> None:
        """The output file (200s) and the error file (the rest), each only if non-empty."""
        out, err = result_lines(batch.job)
        bid = batch.job.batch_id
        if out:
            stored = new_file(f"{bid}_output.jsonl", "batch_output", out)
            self.files[stored.id] = stored
            batch.output_file_id = stored.id
        if err:
            stored = new_file(f"{bid}_error.jsonl", "batch_output", err)
            self.files[stored.id] = stored
            batch.error_file_id = stored.id
