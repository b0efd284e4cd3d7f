"""The answer of POST /v1/estimate (its body is POST /v1/batches's: schemas/batch_api.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.api import ErrorInfo


class EstimatedDocument(BaseModel):
    """One document as a submission would treat it."""

    index: int = Field(description="its position in `documents`, from 0")
    key: str | None = None
    filename: str | None = None
    tokens: int = Field(description="its token count, as intake measures it")
    tier: str
    tier_reason: str
    lane: str
    chunks: int = Field(description="calls per sample the engine splits it into")
    cost_usd: str = Field(description="its expected cost before re-asks (Decimal)")
    invalid: ErrorInfo | None = Field(
        default=None, description="why it would fail at submission (it would cost nothing)"
    )


class LaneEstimate(BaseModel):
    """What the documents of one lane would take, re-asks included."""

    lane: str
    documents: int
    calls: int = Field(description="calls without re-asks")
    reask_calls: int = Field(description="the expected extra calls re-asks add")
    input_tokens: int
    output_tokens: int
    cost_usd: str = Field(description="USD, a Decimal as a string")
    eta_s: float | None = Field(description="seconds until done at the current caps; null: empty")
    eta_basis: str = Field(description="how eta_s was reckoned")


class OutputBasisOut(BaseModel):
    """The output tokens per call used for one tier, and where they came from."""

    tier: str
    tokens_per_call: int
    source: str = Field(description="history (the tenant's finished jobs) or default")
    jobs: int = Field(description="the finished jobs of this extractor and tier it looked at")
    cached_share: float = Field(
        default=0.0, description="the share of input priced as cached (history only)"
    )


class ReaskOut(BaseModel):
    """The expected re-ask overhead, from the tenant's ledger."""

    share: float = Field(description="calls that failed validation / all calls")
    extra_per_call: float = Field(description="expected re-asks per call: share / (1 - share)")
    calls: int = Field(description="the calls it looked at")
    validation_errors: int
    jobs: int = Field(description="the jobs those calls belong to")
    days: int
    source: str = Field(description="ledger, or none (no calls in the window: no overhead)")


class EstimateOut(BaseModel):
    """POST /v1/estimate: a submission's expected usage, cost and time; nothing is stored."""

    schema_name: str = Field(serialization_alias="schema", description="the version resolved")
    lane: str = Field(description="the lane the submission's jobs would take")
    lane_reason: str
    currency: str = "USD"
    documents: list[EstimatedDocument]
    lanes: dict[str, LaneEstimate] = Field(description="realtime and batch")
    output: list[OutputBasisOut]
    reasks: ReaskOut
