"""Complexity router: pick a tier from measurable features, with thresholds from the TOML."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.config import AppConfig, Tier


@dataclass(frozen=True)
class Features:
    """What the router looks at."""

    tokens: int
    schema_fields: int
    schema_depth: int
    needs_chunking: bool


@dataclass(frozen=True)
class Route:
    """The chosen tier and why."""

    tier: Tier
    reason: str


def choose_tier(*, features: Features, config: AppConfig) -> Route:
    """Low when the document and schema are small, high when either is large or chunked."""
    r = config.router
    f = features
    high = []
    if f.tokens >= r.high_min_tokens:
        high.append(f"tokens {f.tokens} >= {r.high_min_tokens}")
    if f.schema_fields >= r.high_min_schema_fields:
        high.append(f"schema fields {f.schema_fields} >= {r.high_min_schema_fields}")
    if f.schema_depth >= r.high_min_schema_depth:
        high.append(f"schema depth {f.schema_depth} >= {r.high_min_schema_depth}")
    if f.needs_chunking and r.chunked_is_high:
        high.append("document needs chunking")
    if high:
        return Route("high", "; ".join(high))
    if (
        f.tokens <= r.low_max_tokens
        and f.schema_fields <= r.low_max_schema_fields
        and f.schema_depth <= r.low_max_schema_depth
    ):
        return Route(
            "low",
            f"tokens {f.tokens} <= {r.low_max_tokens}, schema {f.schema_fields} fields "
            f"depth {f.schema_depth} within low bounds",
        )
    return Route(
        "medium",
        f"tokens {f.tokens}, schema {f.schema_fields} fields depth {f.schema_depth}: "
        "between low and high bounds",
    )
