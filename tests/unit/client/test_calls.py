"""The client's calls: routes, query parameters, pages, waits, and the typed batch view."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from scripts.client import BatchSummary, Client, UsageLine, WaitTimeoutError, batch_outcome
from tests.support.cli import Handler, Recorder, answers, mock_client, pages


def batch(**over: Any) -> dict[str, Any]:
    """A GET /v1/batches/{id} answer."""
    counts = {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
    counts.update(over.pop("counts", {}))
    body = {
        "id": "b1",
        "schema": "invoice@1",
        "tier": "auto",
        "total": sum(counts.values()),
        "counts": counts,
        "progress": 0.0,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": "0.0012"},
        "created_at": "2026-05-01T10:00:00Z",
        "cancelled_at": None,
        "finished_at": None,
    }
    body.update(over)
    return body


def test_list_batches_follows_the_cursor_through_every_page_with_the_filters() -> None:
    handler, seen = answers(*pages([{"id": "b1"}, {"id": "b2"}], [{"id": "b3"}]))
    with mock_client(handler) as api:
        found = api.list_batches(
            status="running", created_after=dt.date(2026, 5, 1), created_before=None, limit=2
        )
        assert [b["id"] for b in found] == ["b1", "b2", "b3"]
    first, second = (dict(r.url.params) for r in seen)
    assert seen[0].url.path == "/v1/batches"
    assert first == {
        "status": "running",
        "created_after": "2026-05-01T00:00:00+00:00",
        "limit": "2",
    }
    assert second == {**first, "cursor": "c1"}


def test_list_batches_fetches_no_page_it_does_not_need() -> None:
    handler, seen = answers(*pages([{"id": "b1"}, {"id": "b2"}], [{"id": "b3"}]))
    with mock_client(handler) as api:
        assert [b["id"] for b in itertools.islice(api.list_batches(), 2)] == ["b1", "b2"]
    assert len(seen) == 1


def test_list_jobs_pages_through_items_with_its_filters() -> None:
    handler, seen = answers(*pages([{"id": "j1"}], [{"id": "j2"}], key="items"))
    with mock_client(handler) as api:
        assert [j["id"] for j in api.list_jobs(batch_id="b1", status="failed")] == ["j1", "j2"]
    assert dict(seen[1].url.params) == {"batch_id": "b1", "status": "failed", "cursor": "c1"}


def test_wait_batch_polls_until_finished_telling_each_poll_and_slowing_down() -> None:
    polls = [
        batch(counts={"queued": 3}),
        batch(counts={"running": 1, "succeeded": 2}),
        batch(counts={"succeeded": 3}, finished_at="2026-05-01T10:01:00Z"),
    ]
    handler, seen = answers(*(httpx.Response(200, json=p) for p in polls))
    rec, progress = Recorder(), list[dict[str, Any]]()
    with mock_client(handler, rec) as api:
        done = api.wait_batch("b1", on_progress=progress.append, poll_s=5.0)
    assert done == polls[-1]
    assert progress == polls
    assert rec.slept == [0.25, 0.3125]
    assert all(r.url.path == "/v1/batches/b1" for r in seen)


def test_wait_batch_gives_up_at_its_timeout_with_the_last_batch_seen() -> None:
    open_batch = batch(counts={"queued": 2, "succeeded": 1})
    handler, _ = answers(*[httpx.Response(200, json=open_batch)] * 100)
    rec = Recorder()
    with mock_client(handler, rec) as api, pytest.raises(WaitTimeoutError) as caught:
        api.wait_batch("b1", poll_s=2.0, timeout_s=10.0)
    assert rec.now == 10.0  # waited exactly to the deadline, polled once more, gave up
    assert caught.value.last == open_batch
    assert "1 of 3 jobs done" in str(caught.value)
    assert isinstance(caught.value, TimeoutError)


def slow_api(rec: Recorder, answer: dict[str, Any], latency_s: float) -> Handler:
    """An API taking `latency_s` of the fake clock per answer, whose requests time out."""

    def handler(request: httpx.Request) -> httpx.Response:
        read = request.extensions["timeout"]["read"]
        if read is not None and read < latency_s:  # what httpx does when no answer comes
            rec.now += read
            raise httpx.ReadTimeout("no answer")
        rec.now += latency_s
        return httpx.Response(200, json=answer)

    return handler


def test_wait_batch_ends_at_its_timeout_even_when_a_poll_takes_longer() -> None:
    rec, open_batch = Recorder(), batch(counts={"queued": 2})
    with (
        mock_client(slow_api(rec, open_batch, latency_s=50.0), rec) as api,
        pytest.raises(WaitTimeoutError) as caught,
    ):
        api.wait_batch("b1", timeout_s=10.0)
    assert rec.now == 10.0  # the poll's request was given the 10 s left, not 300 s
    assert caught.value.last == {}
    assert "no answer yet" in str(caught.value)
    assert rec.slept == []  # no retry: the time was up


def test_wait_batch_counts_the_time_its_polls_take_and_overshoots_by_one_poll_at_most() -> None:
    rec, open_batch = Recorder(), batch(counts={"queued": 1, "succeeded": 1})
    seen: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(rec.now)
        return slow_api(rec, open_batch, latency_s=3.0)(request)

    with mock_client(handler, rec) as api, pytest.raises(WaitTimeoutError) as caught:
        api.wait_batch("b1", timeout_s=10.0)
    assert all(start < 10.0 for start in seen)  # no poll begins after the timeout
    assert 10.0 <= rec.now <= 10.0 + 2.0  # the last poll's request was cut short
    assert caught.value.last == open_batch


def test_submit_batch_sends_strings_as_text_documents_with_the_schema_and_tier() -> None:
    handler, seen = answers(httpx.Response(202, json={"id": "b1"}))
    with mock_client(handler) as api:
        api.submit_batch(["hello", {"content_base64": "aGk=", "filename": "a.pdf"}], schema="x@2")
    assert json.loads(seen[0].content) == {
        "schema": "x@2",
        "tier": "auto",
        "documents": [{"text": "hello"}, {"content_base64": "aGk=", "filename": "a.pdf"}],
    }


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (lambda api: api.cancel_batch("b 1"), "POST", "/v1/batches/b%201/cancel"),
        (lambda api: api.retry_batch("b1"), "POST", "/v1/batches/b1/retry"),
        (lambda api: api.retry_job("j1"), "POST", "/v1/jobs/j1/retry"),
        (lambda api: api.get_job("j1"), "GET", "/v1/jobs/j1"),
        (lambda api: api.extractor("a/b"), "GET", "/v1/extractors/a%2Fb"),
        (lambda api: api.usage(dt.date(2026, 5, 1), "2026-05-31"), "GET", "/v1/usage"),
    ],
)
def test_each_call_goes_to_its_route(
    call: Callable[[Client], object], method: str, path: str
) -> None:
    handler, seen = answers(httpx.Response(200, json={"id": "x"}))
    with mock_client(handler) as api:
        call(api)
    assert (seen[0].method, seen[0].url.raw_path.decode().split("?")[0]) == (method, path)


def test_usage_sends_its_days_as_dates() -> None:
    handler, seen = answers(httpx.Response(200, json={"by_day": []}))
    with mock_client(handler) as api:
        api.usage(since=dt.date(2026, 5, 1), until=dt.datetime(2026, 5, 3, 12, tzinfo=dt.UTC))
    assert dict(seen[0].url.params) == {"since": "2026-05-01", "until": "2026-05-03"}


def test_schemas_returns_the_catalogue_list() -> None:
    handler, _ = answers(httpx.Response(200, json=[{"name": "invoice", "version": "1"}]))
    with mock_client(handler) as api:
        assert api.schemas() == [{"name": "invoice", "version": "1"}]


def test_results_stream_one_job_per_line_skipping_blank_lines() -> None:
    body = '{"id": "j1"}\n\n{"id": "j2"}\n'
    handler, _ = answers(httpx.Response(200, text=body))
    with mock_client(handler) as api:
        assert [r["id"] for r in api.results("b1")] == ["j1", "j2"]


@pytest.mark.parametrize(
    ("over", "status"),
    [
        ({"counts": {"queued": 2}}, "queued"),
        ({"counts": {"queued": 1, "succeeded": 1}}, "running"),
        ({"counts": {"queued": 2}, "killswitch": {"on": True, "reason": "cli"}}, "paused"),
        ({"counts": {"queued": 2}, "killswitch": None}, "queued"),
        ({"counts": {"running": 1}, "cancelled_at": "2026-05-01T10:00:01Z"}, "cancelling"),
        ({"counts": {"succeeded": 2}, "finished_at": "2026-05-01T10:01:00Z"}, "succeeded"),
        ({"counts": {"succeeded": 1, "failed": 1}, "finished_at": "2026-05-01T10:01Z"}, "partial"),
        ({"counts": {"failed": 2}, "finished_at": "2026-05-01T10:01:00Z"}, "failed"),
        (
            {
                "counts": {"cancelled": 2},
                "cancelled_at": "2026-05-01T10:00:01Z",
                "finished_at": "2026-05-01T10:00:01Z",
            },
            "cancelled",
        ),
    ],
)
def test_a_batch_outcome_is_one_word_from_its_counts_and_timestamps(
    over: dict[str, Any], status: str
) -> None:
    assert batch_outcome(batch(**over)) == status
    assert BatchSummary.from_api(batch(**over)).outcome == status


@pytest.mark.parametrize(
    ("over", "status"),
    [
        ({"counts": {"succeeded": 1, "failed": 1}, "status": "finished"}, "finished"),
        ({"counts": {"queued": 2}, "status": "running"}, "running"),  # the API's word wins
        ({"counts": {"queued": 2}}, "queued"),  # an older API: its rule, applied here
        ({"counts": {"queued": 1, "failed": 1}}, "running"),
        ({"counts": {"failed": 2}, "finished_at": "2026-05-01T10:01:00Z"}, "finished"),
        ({"counts": {"running": 1}, "cancelled_at": "2026-05-01T10:00:01Z"}, "cancelled"),
    ],
)
def test_a_batch_views_status_is_the_apis_own_word_the_list_filters_on(
    over: dict[str, Any], status: str
) -> None:
    assert BatchSummary.from_api(batch(**over)).status == status


def test_the_batch_view_reads_cost_as_a_decimal_and_counts_done_jobs() -> None:
    view = BatchSummary.from_api(batch(counts={"succeeded": 2, "failed": 1, "queued": 1}))
    assert (view.total, view.done, str(view.cost_usd)) == (4, 3, "0.0012")
    assert view.created_at == dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC)


def test_a_usage_line_without_a_lane_is_the_realtime_lane() -> None:
    line = {"day": "2026-05-01", "model": "m", "tier": "low", "calls": 2, "cost_usd": "0.5"}
    assert UsageLine.from_api(line).lane == "realtime"
    assert UsageLine.from_api({**line, "lane": "batch"}).lane == "batch"
