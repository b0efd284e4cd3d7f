"""Typed settings: environment (pydantic-settings) plus the TOML file DOCQUEUE_CONFIG names."""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.console import ConsoleConfig
from schemas.extractors.config import ExtractorsConfig
from schemas.lanes import LANES, BatchLaneConfig
from schemas.retention import RetentionConfig
from schemas.trust.config import OcrConfig, TrustConfig

DEFAULT_CONFIG = Path(__file__).with_name("docqueue.toml")
Tier = Literal["low", "medium", "high"]
TIERS: tuple[Tier, ...] = ("low", "medium", "high")


class Price(BaseModel):
    """A model's list price in USD per million tokens, valid from `effective`."""

    effective: dt.date
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float
    # A cache write's price (Anthropic: 1.25x input, 5-minute cache); None: input (OpenAI).
    cache_write_per_mtok: float | None = None


class ModelConfig(BaseModel):
    """One model: its provider, caps and price history."""

    provider: Literal["openai", "anthropic"]
    concurrency: int = Field(gt=0)
    tokens_per_minute: int = Field(gt=0)
    context_tokens: int = Field(gt=0)
    chunk_tokens: int = Field(gt=0)
    prices: list[Price] = Field(min_length=1)
    # The provider's batch API price (the batch lane); empty: the model has no batch lane.
    batch_prices: list[Price] = Field(default_factory=list)

    def price_on(self, day: dt.date, lane: str = "realtime") -> Price:
        """The price in force on `day` in `lane` (the earliest one if `day` predates all).

        ValueError for an unknown lane, or the batch lane of a model without `batch_prices`.
        """
        if lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}: one of {', '.join(LANES)}")
        prices = self.batch_prices if lane == "batch" else self.prices
        if not prices:
            raise ValueError(
                f"model ({self.provider}) has no batch_prices: it cannot be priced in the "
                "batch lane (add [[models.NAME.batch_prices]] to the TOML)"
            )
        ordered = sorted(prices, key=lambda p: p.effective)
        current = ordered[0]
        for price in ordered:
            if price.effective <= day:
                current = price
        return current


class TierConfig(BaseModel):
    """A complexity tier: its ordered fallback chain and re-ask limit."""

    models: list[str] = Field(min_length=1)
    max_reasks: int = Field(ge=0)
    max_output_tokens: int = Field(gt=0)


class Limits(BaseModel):
    max_document_bytes: int
    max_text_chars: int
    max_request_bytes: int
    ndjson_buffer_bytes: int = Field(default=8 * 1024 * 1024, gt=0)  # an upload stores past this
    # PDF, DOCX and HTML are parsed in child processes killed past these limits.
    parse_timeout_s: float = Field(default=20.0, gt=0)
    parse_memory_bytes: int = Field(default=1024 * 1024 * 1024, ge=128 * 1024 * 1024)
    parse_workers: int = Field(default=2, gt=0)  # parses at once per API process


class RouterConfig(BaseModel):
    low_max_tokens: int
    low_max_schema_fields: int
    low_max_schema_depth: int
    high_min_tokens: int
    high_min_schema_fields: int
    high_min_schema_depth: int
    chunked_is_high: bool


class RetryConfig(BaseModel):
    max_attempts: int = Field(gt=0)
    base_delay_s: float = Field(ge=0)
    max_delay_s: float = Field(ge=0)
    max_wall_s: float = Field(gt=0)


class BreakerConfig(BaseModel):
    failure_threshold: int = Field(gt=0)
    error_rate: float = Field(gt=0, le=1)
    window_s: int = Field(gt=0)
    min_calls: int = Field(gt=0)
    cooldown_s: float = Field(gt=0)


class SemaphoreConfig(BaseModel):
    lease_ttl_s: float = Field(gt=0)
    heartbeat_s: float = Field(gt=0)


class TenantDefaults(BaseModel):
    default_concurrency: int = Field(gt=0)
    default_monthly_budget_usd: float = Field(ge=0)


class DispatchConfig(BaseModel):
    poll_interval_s: float = Field(gt=0)
    max_outstanding: int = Field(gt=0)
    stuck_queued_s: float = Field(gt=0)
    requeue_running_grace_s: float = Field(ge=0)
    # A worker's liveness key, rewritten every beat, lives a TTL; missing a TTL: requeue its jobs.
    liveness_ttl_s: float = Field(default=6.0, gt=0)
    liveness_beat_s: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _beats_fit_the_ttl(self) -> DispatchConfig:
        if not 2 * self.liveness_beat_s <= self.liveness_ttl_s:
            raise ValueError("need 2 * liveness_beat_s <= liveness_ttl_s (a missed beat is fine)")
        return self


class CeleryConfig(BaseModel):
    worker_concurrency: int = Field(gt=0)
    soft_time_limit_s: int = Field(gt=0)
    time_limit_s: int = Field(gt=0)
    visibility_timeout_s: int = Field(gt=0)
    sdk_timeout_s: float = Field(gt=0)
    sdk_connect_timeout_s: float = Field(gt=0)
    # SIGTERM: stop taking jobs, let in-flight ones finish this long, hand back the rest.
    shutdown_grace_s: float = Field(default=25.0, gt=0)

    @model_validator(mode="after")
    def _limits_nest(self) -> CeleryConfig:
        if not self.sdk_timeout_s < self.soft_time_limit_s < self.time_limit_s:
            raise ValueError("need sdk_timeout_s < soft_time_limit_s < time_limit_s")
        if self.visibility_timeout_s <= self.time_limit_s:
            raise ValueError("visibility_timeout_s must exceed time_limit_s")
        return self


class ChunkingConfig(BaseModel):
    overlap_chars: int = Field(ge=0)


class WebhookConfig(BaseModel):
    """Webhook delivery: attempts, exponential backoff, per-request timeout."""

    max_attempts: int = Field(default=8, gt=0)
    base_delay_s: float = Field(default=2.0, gt=0)
    max_delay_s: float = Field(default=300.0, gt=0)  # below the broker visibility timeout
    timeout_s: float = Field(default=10.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)  # a dead host fails fast
    worker_concurrency: int = Field(default=16, gt=0)  # threads of `docqueue webhooks`
    tenant_concurrency: int = Field(default=4, gt=0)  # one tenant's deliveries in flight
    busy_retry_s: float = Field(default=2.0, gt=0)  # a delivery without a slot waits ~this


ProcessKind = Literal["api", "worker", "scheduler", "cli"]


class PoolConfig(BaseModel):
    """One process's connection pool: it never holds more than pool_size + max_overflow."""

    pool_size: int = Field(gt=0)
    max_overflow: int = Field(default=0, ge=0)
    # A thread that finds the pool empty waits this long, then fails (never beyond the bound).
    pool_timeout_s: float = Field(default=10.0, gt=0)

    @property
    def most(self) -> int:
        """The most connections this pool can hold at once."""
        return self.pool_size + self.max_overflow


class PoolsConfig(BaseModel):
    """Pools per process kind: the connection budget of docs/postgres.md."""

    api: PoolConfig = Field(default_factory=lambda: PoolConfig(pool_size=8))
    worker: PoolConfig = Field(default_factory=lambda: PoolConfig(pool_size=10))
    scheduler: PoolConfig = Field(default_factory=lambda: PoolConfig(pool_size=3))
    cli: PoolConfig = Field(default_factory=lambda: PoolConfig(pool_size=2, max_overflow=2))

    def for_kind(self, kind: ProcessKind) -> PoolConfig:
        """The pool of a process of this kind."""
        pool: PoolConfig = getattr(self, kind)
        return pool


class DbRetryConfig(BaseModel):
    """Backoff for writes that meet a refused or dropped connection (storage/retrying.py)."""

    base_delay_s: float = Field(default=0.05, gt=0)
    max_delay_s: float = Field(default=1.0, gt=0)
    max_wall_s: float = Field(default=10.0, gt=0)
    # Longer: the worker holds the result; giving up leaves the job running till its lease ends.
    terminal_max_wall_s: float = Field(default=60.0, gt=0)


class AppConfig(BaseModel):
    """Everything in the TOML file."""

    limits: Limits
    router: RouterConfig
    retry: RetryConfig
    breaker: BreakerConfig
    semaphore: SemaphoreConfig
    tenants: TenantDefaults
    dispatch: DispatchConfig
    celery: CeleryConfig
    chunking: ChunkingConfig
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    pools: PoolsConfig = Field(default_factory=PoolsConfig)
    db_retry: DbRetryConfig = Field(default_factory=DbRetryConfig)
    extractors: ExtractorsConfig = Field(default_factory=ExtractorsConfig)
    trust: TrustConfig = Field(default_factory=TrustConfig)
    ocr: OcrConfig = Field(default_factory=OcrConfig)
    batch_lane: BatchLaneConfig = Field(default_factory=BatchLaneConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    tiers: dict[Tier, TierConfig]
    models: dict[str, ModelConfig]

    @model_validator(mode="after")
    def _chains_name_known_models(self) -> AppConfig:
        missing = {t for t in TIERS if t not in self.tiers}
        if missing:
            raise ValueError(f"tiers missing: {sorted(missing)}")
        for tier, cfg in self.tiers.items():
            unknown = [m for m in cfg.models if m not in self.models]
            if unknown:
                raise ValueError(f"tier {tier} names unknown models {unknown}")
        return self


def load_config(path: Path) -> AppConfig:
    """Parse and validate a docqueue TOML file."""
    with path.open("rb") as fh:
        return AppConfig.model_validate(tomllib.load(fh))


class Settings(BaseSettings):
    """Process settings, read once from the environment (and `.env`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "postgresql+psycopg://docqueue@127.0.0.1:54329/docqueue"
    database_listen_url: str | None = None  # a direct session: LISTEN, the leaders' locks
    database_pool_mode: Literal["session", "transaction"] = "session"  # storage/pooler.py
    redis_url: str = "redis://127.0.0.1:63799/0"
    openai_api_key: str = "sk-sim"
    openai_base_url: str | None = None
    anthropic_api_key: str = "sk-ant-sim"
    anthropic_base_url: str | None = None
    docqueue_config: Path = DEFAULT_CONFIG
    log_level: str = "INFO"
    log_json: bool = True
    flower_basic_auth: str = "admin:docqueue"
    metrics_port: int | None = None  # first port a worker tries for /metrics (see tasks/metrics)
    metrics_token: str | None = None  # when set, the API's /metrics wants this Bearer token
    webhook_allow_private: bool = False
    api_rate_per_s: float = 200.0
    api_burst: int = 400
    docqueue_api_url: str = "http://127.0.0.1:8000"  # where the CLI's ingest/status/results go
    docqueue_api_key: str | None = None
    # OTLP/HTTP traces only when set (e.g. http://collector:4318); the SDK reads other OTEL_*
    otel_exporter_otlp_endpoint: str | None = None
    heartbeat_file: Path | None = None  # touched by the scheduler's and batcher's loops

    @property
    def app(self) -> AppConfig:
        """The parsed TOML configuration (cached per path)."""
        return _load_cached(self.docqueue_config)


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> AppConfig:
    return load_config(path)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests clear the cache after changing the environment)."""
    return Settings()
