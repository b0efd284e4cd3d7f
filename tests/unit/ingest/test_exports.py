"""--out files: CSV, a real XLSX within Excel's limits, NDJSON, refused suffixes."""

from __future__ import annotations

import csv
import errno
import json
import tempfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from scripts.ingest import exports, xlsx
from scripts.ingest.columns import from_schema
from tests.unit.ingest.test_columns import RESULT, columns


def _row(**over: Any) -> dict[str, Any]:
    row = {
        "id": "job-1",
        "key": "k1",
        "filename": "a.txt",
        "status": "succeeded",
        "result": RESULT,
        "error": None,
        "metadata": {"path": "a.txt"},
        "usage": {"input_tokens": 3, "output_tokens": 2, "cost_usd": "0.000125"},
        "tier": "low",
        "model": "gpt-4o-mini",
    }
    duplicate_of = over.pop("duplicate_of", None)
    path = over.pop("path", "docs/a.txt")
    return exports.export_row({**row, **over}, path=path, state="sent", duplicate_of=duplicate_of)


def _csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_csv_has_the_fixed_columns_then_one_per_field(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with exports.writer(path, columns()) as write:
        write(_row(review_state="corrected", confidence=0.8123))
        write(_row(status="failed", result=None, error={"type": "x", "message": "why"}))
    rows = _csv(path)
    assert rows[0][:13] == [*exports.FIXED, "result.invoice_number"]
    assert rows[0][-2:] == ["result.vendor.note", "result.surprise.deep"]
    assert rows[1][:13] == [
        "docs/a.txt", "succeeded", "low", "gpt-4o-mini", "0.000125", "", "", "", "job-1",
        "k1", "corrected", "0.8123", "INV-1",
    ]  # fmt: skip
    assert rows[2][:7] == ["docs/a.txt", "failed", "low", "gpt-4o-mini", "0.000125", "x", "why"]
    assert rows[2][10:] == [""] * 13
    assert write.rows == 2


def test_csv_text_that_a_spreadsheet_would_run_is_quoted_and_numbers_are_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.csv"
    found = from_schema(None)
    hostile = {"f": "=HYPERLINK(1)", "p": "+1", "m": "-1", "a": "@SUM", "t": "\tx", "n": -3}
    found.see(hostile)
    with exports.writer(path, found) as write:
        write(_row(result=hostile, path="-rf.txt", usage={"cost_usd": "0.0000001"}))
    header, row = _csv(path)
    values = dict(zip(header, row, strict=True))
    quoted = [values[f"result.{k}"] for k in "fpmat"]
    assert quoted == ["'=HYPERLINK(1)", "'+1", "'-1", "'@SUM", "'\tx"]
    assert values["result.n"] == "-3"  # a number stays a number
    assert values["path"] == "'-rf.txt"
    assert values["cost_usd"] == "0.0000001"


def test_a_duplicate_path_row_carries_no_cost_so_a_column_sum_counts_each_job_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.csv"
    with exports.writer(path, columns()) as write:
        write(_row())
        write(_row(path="docs/copy.txt", duplicate_of="docs/a.txt"))
    _, first, copy = _csv(path)
    assert (first[4], copy[4]) == ("0.000125", "0")
    assert copy[8] == first[8] == "job-1"  # the shared job
    assert copy[7] == "docs/a.txt"


def test_xlsx_is_a_real_workbook_with_the_same_columns_and_text_stays_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.xlsx"
    vendor = {"name": "#N/A\x07"}  # an error code, and a character XML cannot hold
    hostile = {**RESULT, "invoice_number": '=HYPERLINK("http://x")', "vendor": vendor}
    with exports.writer(path, columns()) as write:
        write(_row(result=hostile))
    sheet = openpyxl.load_workbook(path)["results"]
    header, row = [[c.value for c in r] for r in sheet.iter_rows()]
    assert header[:4] == ["path", "status", "tier", "model"]
    assert header[-2:] == ["result.vendor.note", "result.surprise.deep"]
    values = dict(zip(header, row, strict=True))
    assert values["result.invoice_number"] == '=HYPERLINK("http://x")'  # not a formula
    assert values["result.vendor.name"] == "#N/A"
    assert values["cost_usd"] == pytest.approx(0.000125)
    assert values["result.total"] == 12.5
    assert values["result.lines"] == '[{"x": 1}, {"x": 2}]'
    assert sheet["M2"].value == '=HYPERLINK("http://x")'
    assert sheet["M2"].data_type == "s"


def test_xlsx_cuts_long_text_visibly_counts_it_and_keeps_big_integers_exact(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out.xlsx"
    found = from_schema(None)
    result = {"long": "x" * 40_000, "big": 12_345_678_901_234_567, "small": -(10**14)}
    found.see(result)
    with exports.writer(path, found) as write:
        write(_row(result=result))
        write(_row(result={**result, "long": "y" * xlsx.MAX_CELL_CHARS}))  # fits exactly
    assert write.truncated == 1
    sheet = openpyxl.load_workbook(path)["results"]
    header, first, second = [[c.value for c in r] for r in sheet.iter_rows()]
    values = dict(zip(header, first, strict=True))
    assert len(values["result.long"]) == xlsx.MAX_CELL_CHARS
    assert values["result.long"].endswith("x…[truncated]")
    assert values["result.big"] == "12345678901234567"  # as text: a double would round it
    assert values["result.small"] == -(10**14)  # still a number
    assert dict(zip(header, second, strict=True))["result.long"] == "y" * xlsx.MAX_CELL_CHARS


def test_xlsx_rows_past_a_sheet_go_on_a_next_sheet_with_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 3)  # the header and 2 rows per sheet
    path = tmp_path / "out.xlsx"
    with exports.writer(path, columns()) as write:
        for i in range(5):
            write(_row(path=f"docs/{i}.txt"))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["results", "results 2", "results 3"]
    paths = [[row[0].value for row in book[name].iter_rows()] for name in book.sheetnames]
    assert paths == [
        ["path", "docs/0.txt", "docs/1.txt"],
        ["path", "docs/2.txt", "docs/3.txt"],
        ["path", "docs/4.txt"],
    ]


def test_ndjson_rows_carry_the_input_path_and_state(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    with exports.writer(path, columns()) as write:
        write(_row())
    (line,) = [json.loads(x) for x in path.read_text().splitlines()]
    assert (line["path"], line["input_state"], line["duplicate_of"]) == ("docs/a.txt", "sent", None)
    assert line["result"] == RESULT


@pytest.mark.parametrize("name", ["results.json", "results.xls", "results.txt", "results"])
def test_other_suffixes_are_refused_with_a_clear_message(tmp_path: Path, name: str) -> None:
    with pytest.raises(exports.ExportError, match=r"write \.jsonl, \.ndjson, \.csv or \.xlsx"):
        exports.check_out_path(tmp_path / name)


def test_an_out_file_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(exports.ExportError, match="does not exist"):
        exports.check_out_path(tmp_path / "nope" / "r.csv")
    exports.check_out_path(tmp_path / "R.XLSX")  # any case of a known suffix


def test_an_out_folder_that_takes_no_new_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run as root, a mode cannot make a folder unwritable: the file system answers instead.
    def read_only(**_: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    with pytest.raises(exports.ExportError, match=r"cannot write in .*: Read-only file system"):
        exports.check_out_path(tmp_path / "r.csv")


def test_a_failed_write_leaves_no_file_behind(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"

    def broken_off() -> None:
        with exports.writer(path, columns()) as write:
            write(_row())
            raise RuntimeError("results broke off")

    with pytest.raises(RuntimeError):
        broken_off()
    assert list(tmp_path.iterdir()) == []
