"""The console's plain functions: document pieces, ETA, CSV cells, chart bars, typed values."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from api.console.review_page import typed_value
from api.console.signin import _next
from api.console.usage_page import CHART_H, bars
from api.console.views import eta, pages
from api.views.exports import _cell
from schemas.api import Usage
from schemas.batch_api import BatchOut, BatchStatus
from schemas.trust.fields import FieldOut
from storage.usage import UsageLine


def _field(start: int | None, end: int | None, confidence: float = 0.9) -> FieldOut:
    return FieldOut(
        path="/x", value="v", support="verified", start=start, end=end, confidence=confidence
    )


def test_evidence_is_cut_out_of_the_text_and_pages_split_at_form_feeds() -> None:
    text = "Total: 42 EUR\fPage two"
    got = pages(text, [_field(7, 9), _field(10, 16)])
    assert [p.number for p in got] == [1, 2]
    assert [(x.text, x.field, x.anchor) for x in got[0].pieces] == [
        ("Total: ", None, False), ("42", 0, True), (" ", None, False), ("EUR", 1, True),
    ]  # fmt: skip
    assert [(x.text, x.field, x.anchor) for x in got[1].pieces] == [
        ("Pa", 1, False), ("ge two", None, False),
    ]  # fmt: skip
    assert "".join(x.text for p in got for x in p.pieces) == text.replace("\f", "")


def test_overlapping_or_out_of_range_evidence_never_loses_text() -> None:
    text = "<script>alert(1)</script>"
    got = pages(text, [_field(0, 10), _field(5, 12), _field(20, 99), _field(None, None)])
    assert "".join(x.text for x in got[0].pieces) == text
    assert [x.field for x in got[0].pieces if x.anchor] == [0]


def _batch(total: int, done: int, age_s: float) -> BatchOut:
    now = dt.datetime.now(dt.UTC)
    return BatchOut(
        id=uuid.uuid4(), schema_name="invoice", tier="low", status=BatchStatus("running"),
        total=total, counts={"queued": total - done, "succeeded": done}, progress=done / total,
        usage=Usage(input_tokens=0, output_tokens=0, cost_usd=Decimal(0)),
        created_at=now - dt.timedelta(seconds=age_s), cancelled_at=None, finished_at=None,
        killswitch=None,
    )  # fmt: skip


def test_the_eta_is_the_pace_so_far_applied_to_what_is_left() -> None:
    now = dt.datetime.now(dt.UTC)
    assert eta(_batch(100, 25, 60), now) == "3 min"  # 25 in 60 s: 75 left take 180 s
    assert eta(_batch(100, 0, 60), now) == ""  # no pace yet
    assert eta(_batch(10, 5, 10), now) == "10 s"


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)"])
def test_a_csv_cell_that_a_spreadsheet_would_run_is_written_as_text(value: str) -> None:
    assert _cell(value) == "'" + value


def test_csv_cells_keep_numbers_and_write_containers_as_json() -> None:
    assert _cell(-5) == -5
    assert _cell({"a": [1]}) == '{"a": [1]}'


def test_each_days_bar_stacks_its_lanes_scaled_to_the_busiest_day() -> None:
    day = dt.date(2026, 12, 1)
    line = UsageLine(day, "m", "low", "realtime", 1, 1, 1, 0, Decimal("2"))
    half = UsageLine(day + dt.timedelta(days=1), "m", "low", "batch", 1, 1, 1, 0, Decimal("1"))
    got, top = bars([line, half], day, 3)
    assert top == Decimal(2)
    assert got[0].parts[0][2] == CHART_H  # the busiest day fills the height
    assert got[1].parts[1][2] == CHART_H / 2  # batch, half the spend
    assert got[2].total == 0


def test_typed_values_keep_the_fields_type_or_say_why_not() -> None:
    assert typed_value("PN-1", "PN-2") == "PN-2"
    assert typed_value(1.5, "131.5") == 131.5
    assert typed_value(None, "") is None
    with pytest.raises(ValueError, match="not a float"):
        typed_value(1.5, "abc")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/v1/jobs", "/console\\x"]
)
def test_sign_in_never_redirects_off_the_console(target: str) -> None:
    assert _next(target) == "/console/batches"


def test_sign_in_returns_to_the_console_page_asked_for() -> None:
    assert _next("/console/jobs/1") == "/console/jobs/1"
