"""Extractors, schema inference, the schema catalogue and usage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .base import BaseClient, day_param, segment
from .errors import DocqueueError


class CatalogCalls(BaseClient):
    """The /v1/extractors, /v1/schemas and /v1/usage routes."""

    def create_extractor(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """POST /v1/extractors: (True, version) when new, (False, latest) when unchanged.

        Safe to replay: the same content answers 200 with the version already stored.
        """
        resp = self._send("POST", "/v1/extractors", json=body)
        return resp.status_code == 201, self._json(resp)

    def extractors(self) -> list[dict[str, Any]]:
        """GET /v1/extractors: the tenant's extractors and the built-ins."""
        data: list[dict[str, Any]] = self._get("/v1/extractors")["data"]
        return data

    def extractor(self, name: str) -> dict[str, Any]:
        """GET /v1/extractors/{name}: the extractor and its versions."""
        return self._get(f"/v1/extractors/{segment(name)}")

    def extractor_version(self, name: str, version: int) -> dict[str, Any]:
        """GET /v1/extractors/{name}/versions/{n}: one version with its JSON Schema."""
        return self._get(f"/v1/extractors/{segment(name)}/versions/{int(version)}")

    def archive_extractor(self, name: str) -> dict[str, Any]:
        """DELETE /v1/extractors/{name}: refuse new jobs; old results stay readable."""
        return self._json(self._send("DELETE", f"/v1/extractors/{segment(name)}"))

    def infer_schema(self, samples: list[dict[str, str]], hint: str | None) -> dict[str, Any]:
        """POST /v1/extractors/infer: a schema (200) or a job still running (202).

        Billed: sent again only after a refused connection or a 429, never after a 5xx.
        """
        body = {"samples": samples, "hint": hint}
        return self._post("/v1/extractors/infer", body, replay_safe=False)

    def inference(self, job_id: str, *, within: float | None = None) -> dict[str, Any]:
        """GET /v1/extractors/infer/{job_id}: the inference job as POST answered it.

        `within`: seconds the call may take in all, retries included (a poll's time left).
        """
        return self._get(f"/v1/extractors/infer/{segment(job_id)}", within=within)

    def schemas(self) -> list[dict[str, Any]]:
        """GET /v1/schemas: the built-in schemas, each with its JSON Schema."""
        resp = self._send("GET", "/v1/schemas")
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, list):
            raise DocqueueError(f"the API answered {resp.status_code} without a schema list")
        return body

    def usage(
        self, since: str | dt.date | None = None, until: str | dt.date | None = None
    ) -> dict[str, Any]:
        """GET /v1/usage: spend by day, model, tier (and lane), totals and the budget.

        Days are UTC and inclusive; the current month to date by default.
        """
        return self._get("/v1/usage", {"since": day_param(since), "until": day_param(until)})
