"""The estimate's arithmetic: output sizes, per-document cost, lane totals, re-asks, ETAs."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from schemas.config import DEFAULT_CONFIG, load_config
from schemas.extraction.registry import get_schema
from schemas.extractors.build import builtin_spec
from schemas.lanes import Lane
from schemas.trust.envelope import answer_model, evidence_note
from tasks.documents.tokens import estimate_tokens
from tasks.engine import estimate as est
from tasks.engine.chain import schema_tokens
from tasks.engine.cost import MICRO, TokenUsage, call_cost

CONFIG = load_config(DEFAULT_CONFIG)
DAY = dt.date(2026, 12, 2)
LOW_MODEL = CONFIG.models[CONFIG.tiers["low"].models[0]]


def _basis(tokens: int = 100) -> est.OutputBasis:
    return est.OutputBasis("low", tokens, "history", 50)


def _micro(value: Decimal) -> Decimal:
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)


def _cost(lane: Lane = "realtime", **kw: int) -> est.DocCost:
    args = {"tokens": 1000, "chunks": 1, "samples": 1, "overhead": 500, **kw}
    return est.doc_cost(**args, tier="low", lane=lane, output=_basis(), config=CONFIG, day=DAY)


def test_output_comes_from_history_once_the_tenant_has_twenty_finished_jobs() -> None:
    history = est.OutputHistory(jobs=20, mean_output_tokens=312.4)
    basis = est.output_basis(tier="low", history=history, config=CONFIG)
    assert (basis.tokens_per_call, basis.source, basis.jobs) == (312, "history", 20)


def test_output_falls_back_to_a_quarter_of_the_tier_cap_below_twenty_jobs() -> None:
    history = est.OutputHistory(jobs=19, mean_output_tokens=312.4)
    basis = est.output_basis(tier="medium", history=history, config=CONFIG)
    cap = CONFIG.tiers["medium"].max_output_tokens
    assert (basis.tokens_per_call, basis.source, basis.jobs) == (cap // 4, "default", 19)


def test_a_document_costs_its_tokens_plus_the_overhead_at_the_first_models_price() -> None:
    cost = _cost()
    expected = call_cost(model=LOW_MODEL, usage=TokenUsage(1500, 100), day=DAY)
    assert (cost.calls, cost.input_tokens, cost.output_tokens) == (1, 1500, 100)
    assert cost.cost_usd == expected


def test_chunks_and_samples_multiply_the_calls_and_the_overhead() -> None:
    cost = _cost(chunks=3, samples=2)
    # the document twice (one per sample), the overhead and the output once per call
    assert (cost.calls, cost.input_tokens, cost.output_tokens) == (6, 2000 + 6 * 500, 600)


def test_the_batch_lane_is_priced_at_the_batch_price() -> None:
    realtime, batch = _cost("realtime"), _cost("batch")
    expected = call_cost(model=LOW_MODEL, usage=TokenUsage(1500, 100), day=DAY, lane="batch")
    assert batch.cost_usd == expected
    assert batch.cost_usd < realtime.cost_usd


def test_a_model_without_batch_prices_is_priced_live_in_the_batch_lane() -> None:
    bare = LOW_MODEL.model_copy(update={"batch_prices": []})
    assert est.price_lane(bare, "batch") == "realtime"
    assert est.price_lane(LOW_MODEL, "batch") == "batch"


def test_reask_share_becomes_extra_calls_per_successful_call() -> None:
    history = est.ReaskHistory(calls=100, validation_errors=20, jobs=80)
    assert history.share == pytest.approx(0.2)
    assert history.extra_per_call == pytest.approx(0.25)  # 0.2 / 0.8
    assert est.ReaskHistory().extra_per_call == 0.0


def test_an_all_failing_history_is_capped_instead_of_dividing_by_zero() -> None:
    history = est.ReaskHistory(calls=10, validation_errors=10, jobs=10)
    assert history.extra_per_call == pytest.approx(est.MAX_REASK_SHARE / (1 - est.MAX_REASK_SHARE))


def test_lane_totals_sum_each_lane_and_add_the_reask_overhead() -> None:
    docs = [_cost(), _cost(), _cost("batch")]
    totals = est.lane_totals(docs, est.ReaskHistory(calls=100, validation_errors=20, jobs=80))
    realtime, batch = totals["realtime"], totals["batch"]
    assert (realtime.documents, realtime.calls, realtime.reask_calls) == (2, 2, 1)
    assert realtime.input_tokens == round(3000 * 1.25)
    assert realtime.output_tokens == round(200 * 1.25)
    assert realtime.cost_usd == _micro(2 * docs[0].cost_usd * Decimal("1.25"))
    assert (batch.documents, batch.cost_usd) == (1, _micro(docs[2].cost_usd * Decimal("1.25")))


def test_without_history_no_reask_calls_are_added() -> None:
    totals = est.lane_totals([_cost()], est.ReaskHistory())
    assert totals["realtime"].reask_calls == 0
    assert totals["realtime"].cost_usd == _cost().cost_usd


def test_the_realtime_eta_is_bound_by_tokens_per_minute_over_the_queue_and_these_tokens() -> None:
    model = LOW_MODEL.model_copy(update={"tokens_per_minute": 60_000, "concurrency": 1000})
    queue = est.QueueDepth(jobs=10, tokens=60_000)
    eta = est.realtime_eta_s(model=model, queue=queue, input_tokens=60_000, calls=1, call_s=1.0)
    assert eta == pytest.approx(120.0)  # two minutes of the token budget


def test_the_realtime_eta_is_bound_by_concurrency_when_calls_are_many_and_small() -> None:
    model = LOW_MODEL.model_copy(update={"tokens_per_minute": 10**9, "concurrency": 4})
    queue = est.QueueDepth(jobs=6, tokens=10)
    eta = est.realtime_eta_s(model=model, queue=queue, input_tokens=10, calls=10, call_s=2.0)
    assert eta == pytest.approx((6 + 10) * 2.0 / 4)
    no_ledger = est.realtime_eta_s(model=model, queue=queue, input_tokens=10, calls=10, call_s=None)
    assert no_ledger == pytest.approx(16 * est.DEFAULT_CALL_S / 4)


def test_the_batch_eta_is_the_providers_window() -> None:
    assert est.batch_eta_s(CONFIG) == CONFIG.batch_lane.window_h * 3600


def test_the_call_overhead_is_the_prompt_the_evidence_note_and_the_tool_definition() -> None:
    spec = builtin_spec(get_schema("document_summary"))
    messages = spec.prompt.render(text="", filename="a.txt")
    prompt = sum(estimate_tokens(m["content"]) for m in messages)
    tool = schema_tokens(answer_model(spec.model))
    overhead = est.call_overhead(spec, "a.txt")
    assert overhead == pytest.approx(prompt + tool + estimate_tokens(evidence_note()), abs=3)
    assert overhead > tool > 200


def test_a_document_within_the_chunk_size_is_one_chunk_and_a_longer_one_several() -> None:
    limit = CONFIG.models[CONFIG.tiers["low"].models[0]].chunk_tokens
    assert est.chunk_count(text="short", tokens=1, tier="low", config=CONFIG) == 1
    long_text = "word " * (limit * 3)
    chunks = est.chunk_count(text=long_text, tokens=limit * 3, tier="low", config=CONFIG)
    assert chunks >= 3


def test_history_carries_the_cached_share_and_the_default_assumes_no_cache() -> None:
    history = est.OutputHistory(jobs=25, mean_output_tokens=90.0, cached_share=0.6)
    assert est.output_basis(tier="low", history=history, config=CONFIG).cached_share == 0.6
    few = est.OutputHistory(jobs=3, mean_output_tokens=90.0, cached_share=0.6)
    assert est.output_basis(tier="low", history=few, config=CONFIG).cached_share == 0.0


def test_the_cached_share_of_the_input_is_billed_at_the_cached_price() -> None:
    basis = est.OutputBasis("low", 100, "history", 50, cached_share=0.5)
    cost = est.doc_cost(
        tokens=1000, chunks=1, samples=1, overhead=1000, tier="low", lane="realtime",
        output=basis, config=CONFIG, day=DAY,
    )  # fmt: skip
    usage = TokenUsage(input_tokens=2000, output_tokens=100, cached_tokens=1000)
    assert cost.cost_usd == call_cost(model=LOW_MODEL, usage=usage, day=DAY)
    assert cost.cost_usd < _cost(overhead=1000).cost_usd
