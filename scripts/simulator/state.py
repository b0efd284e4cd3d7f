"""Simulator configuration (SimState) and counters (Stats) shared by every request."""

from __future__ import annotations

import dataclasses
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

SAMPLE_INTERVAL_S = 0.05
MAX_SAMPLES = 20_000
DEFAULT_FAULT_STATUSES = (429, 500, 529)
BATCH_DELAY_ENV = "DOCQUEUE_SIM_BATCH_DELAY_S"
RATES = ("fault_rate", "timeout_rate", "invalid_rate")
BATCH_RATES = ("batch_error_rate", "batch_expire_rate", "batch_invalid_rate")


def _env_batch_delay() -> float:
    """The default batch processing delay: DOCQUEUE_SIM_BATCH_DELAY_S, else one second."""
    return float(os.environ.get(BATCH_DELAY_ENV) or 1.0)


@dataclass
class SimState:
    """Knobs of the simulator; POST /sim/config merges JSON into it."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    fault_rate: float = 0.0
    fault_statuses: list[int] = field(default_factory=lambda: list(DEFAULT_FAULT_STATUSES))
    timeout_rate: float = 0.0
    timeout_hang_s: float = 600.0
    invalid_rate: float = 0.0
    down_models: list[str] = field(default_factory=list)
    status_models: dict[str, int] = field(default_factory=dict)
    seed: int = 0
    record_requests: int = 0
    batch_delay_s: float = field(default_factory=_env_batch_delay)
    batch_error_rate: float = 0.0
    batch_expire_rate: float = 0.0
    batch_invalid_rate: float = 0.0
    # Seconds a batch create waits, batch already registered, before answering: lets a test
    # kill the caller between the provider's create and its own record of it.
    batch_create_hang_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-ready data."""
        return dataclasses.asdict(self)

    def copy(self) -> SimState:
        """An independent copy (lists and dicts included)."""
        return SimState(**self.to_dict())

    def merge(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, checking names, types and ranges; raise ValueError if bad."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown SimState fields: {', '.join(unknown)}")
        # Validate everything on a copy first, so a bad field leaves the state untouched.
        trial = self.copy()
        for name, raw in changes.items():
            setattr(trial, name, _coerce(name, raw))
        for name, value in trial.to_dict().items():
            setattr(self, name, value)


def _coerce(name: str, raw: Any) -> Any:
    try:
        if name in RATES or name in BATCH_RATES:
            value = float(raw)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
            return value
        if name in (
            "latency_ms",
            "latency_jitter_ms",
            "timeout_hang_s",
            "batch_delay_s",
            "batch_create_hang_s",
        ):
            number = float(raw)
            if number < 0:
                raise ValueError(f"{name} must be >= 0")
            return number
        if name in ("seed", "record_requests"):
            return int(raw)
        if name == "fault_statuses":
            return [int(s) for s in raw]
        if name == "down_models":
            return [str(m) for m in raw]
        if name == "status_models":
            return {str(m): int(s) for m, s in dict(raw).items()}
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"bad value for {name}: {raw!r}") from exc
    raise ValueError(f"unknown SimState field: {name}")


@dataclass
class ModelStats:
    """Counters for one model name."""

    requests: int = 0
    ok: int = 0
    faults: int = 0
    invalid: int = 0
    timeouts: int = 0
    disconnects: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


CLIENT_IDS_KEPT = 200_000


class Stats:
    """Request counters, in-flight gauges and the in-flight time series."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter and drop the samples; requests still running stay in flight."""
        # Requests under way will still call leave()/end(): keep their gauges so none go negative.
        carried = getattr(self, "in_flight", 0)
        running = {n: m.in_flight for n, m in getattr(self, "models", {}).items() if m.in_flight}
        self.in_flight = carried
        self.max_in_flight = carried
        self.requests = 0
        self.models: dict[str, ModelStats] = {
            n: ModelStats(in_flight=c, max_in_flight=c) for n, c in running.items()
        }
        self.samples: deque[tuple[float, int]] = deque(maxlen=MAX_SAMPLES)
        self.recorded: deque[dict[str, Any]] = deque(maxlen=1)
        # The X-Client-Request-Id of every request seen: fault tests match it to the ledger.
        self.client_request_ids: deque[str] = deque(maxlen=CLIENT_IDS_KEPT)
        # Every batch item the simulator billed (GET /sim/batches/billed), and item outcomes.
        self.batch_billed: list[dict[str, Any]] = []
        self.batch_items: dict[str, int] = {}
        self.batches_created = 0

    def model(self, name: str) -> ModelStats:
        """The counters of one model, created on first use."""
        found = self.models.get(name)
        if found is None:
            found = self.models[name] = ModelStats()
        return found

    def arrive(self, client_request_id: str | None = None) -> None:
        """A provider request arrived (counted before its body is even parsed)."""
        self.requests += 1
        if client_request_id:
            self.client_request_ids.append(client_request_id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        """A provider request got its response (or its client went away)."""
        self.in_flight = max(0, self.in_flight - 1)

    def begin(self, name: str) -> None:
        """Count a request against its model once the model is known."""
        stats = self.model(name)
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)

    def end(self, name: str) -> None:
        """A request of this model got its response."""
        stats = self.model(name)
        stats.in_flight = max(0, stats.in_flight - 1)

    def count_status(self, name: str, status: int) -> None:
        """Count one response status for a model."""
        by_status = self.model(name).by_status
        key = str(status)
        by_status[key] = by_status.get(key, 0) + 1

    def record(self, path: str, body: Any, keep: int) -> None:
        """Keep the last `keep` request bodies for inspection (GET /sim/requests)."""
        if keep <= 0:
            return
        if self.recorded.maxlen != keep:
            self.recorded = deque(self.recorded, maxlen=keep)
        self.recorded.append({"path": path, "body": body})

    def sample(self) -> None:
        """Append one (time, in_flight) point to the time series."""
        self.samples.append((round(time.time(), 3), self.in_flight))

    def snapshot(self, since: float | None = None, with_samples: bool = True) -> dict[str, Any]:
        """Everything GET /sim/stats returns."""
        by_model: dict[str, Any] = {}
        usage: dict[str, Any] = {}
        for name, m in self.models.items():
            data = dataclasses.asdict(m)
            usage[name] = {
                "input_tokens": data.pop("input_tokens"),
                "output_tokens": data.pop("output_tokens"),
            }
            by_model[name] = data
        samples: list[list[float]] = []
        if with_samples:
            samples = [[t, n] for t, n in self.samples if since is None or t >= since]
        return {
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "requests": self.requests,
            "by_model": by_model,
            "usage": usage,
            "sample_interval_ms": round(SAMPLE_INTERVAL_S * 1000),
            "inflight_samples": samples,
            "batches": {
                "created": self.batches_created,
                "items": dict(self.batch_items),
                "input_tokens": sum(b["input_tokens"] for b in self.batch_billed),
                "output_tokens": sum(b["output_tokens"] for b in self.batch_billed),
            },
        }
