"""Estimate calls: what a batch would cost and take, before anything is spent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from .base import BaseClient
from .lanes import LaneChoice, lane_fields


class EstimateCalls(BaseClient):
    """The /v1/estimate route."""

    def create_estimate(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/estimate with a POST /v1/batches body; nothing is stored or called."""
        return self._post("/v1/estimate", body)

    def estimate(
        self,
        documents: Iterable[Mapping[str, Any] | str],
        *,
        schema: str,
        tier: str = "auto",
        lane: LaneChoice = "realtime",
        deadline: str | dt.datetime | dt.timedelta | None = None,
    ) -> dict[str, Any]:
        """Estimate `submit_batch` with the same arguments: tokens, tier and lane per
        document; tokens, cost (USD strings) and ETA per lane; the re-ask overhead.
        """
        docs = [{"text": d} if isinstance(d, str) else dict(d) for d in documents]
        body: dict[str, Any] = {"schema": schema, "tier": tier, "documents": docs}
        body.update(lane_fields(lane, deadline))
        return self.create_estimate(body)
