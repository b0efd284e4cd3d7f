"""Document lists: a bad row is skipped with file:line and why, the rest of the list is sent."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.config import Limits
from scripts.ingest import limits, sources
from scripts.ingest.base import content_key


def _items(path: Path) -> list[tuple[str, str | None]]:
    """(where, reason) of every entry of a list; what `count_rows` must count too."""
    items = list(sources.list_items(path, "s"))
    assert sources.count_rows(path) == len(items)
    for item in items:
        if item.doc is not None:
            json.dumps(item.doc.body, allow_nan=False).encode()  # sendable, as httpx sends
    return [(item.path.removeprefix(str(path)), item.reason) for item in items]


def _jsonl(path: Path, *lines: Any) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"text": 0}, "`text`: Input should be a valid string"),
        ({"text": False}, "`text`: Input should be a valid string"),
        ({"text": []}, "`text`: Input should be a valid string"),
        ({"text": {}}, "`text`: Input should be a valid string"),
        ({"content_base64": []}, "`content_base64`: Input should be a valid string"),
        ({}, "give exactly one of `text` or `content_base64`"),
        ({"text": "a", "content_base64": "YQ=="}, "give exactly one of `text` or `content_base64`"),
        ({"text": "a", "metadata": []}, "`metadata` must be an object"),
        ({"text": "a", "key": 7}, "`key`: Input should be a valid string"),
        ({"text": "a", "key": "k" * 251}, "`key`: String should have at most 250 characters"),
        ({"text": "a", "filename": ["x"]}, "`filename`: Input should be a valid string"),
        ({"text": "a", "key": "nul\u0000"}, "`key`: must not contain NUL characters"),
        ({"text": "a", "who": "nul\u0000"}, "`metadata`: must not contain NUL characters"),
        ({"text": "a", "who": "\ud800"}, "`metadata`: must not contain NUL characters"),
        ({"text": "a", "deep": json.loads("[" * 40 + "]" * 40)}, "`metadata`: must not nest"),
        ({"content_base64": "not base64!"}, "`content_base64` is not base64"),
        ({"text": "   "}, "empty document"),
        ({"text": "a", "unknown_field_is": "metadata", "text2": 1}, None),
    ],
)
def test_a_row_the_server_would_refuse_is_skipped_with_its_reason(
    tmp_path: Path, row: dict[str, Any], reason: str | None
) -> None:
    path = _jsonl(tmp_path / "docs.jsonl", {"text": "before"}, row, {"text": "after"})
    items = _items(path)
    assert [where for where, _ in items] == [":1", ":2", ":3"]
    assert items[0][1] is None
    assert items[2][1] is None
    got = items[1][1]
    assert (got is None) if reason is None else (got is not None and got.startswith(reason)), got


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_in_metadata_are_skipped_not_a_crash(tmp_path: Path, number: str) -> None:
    path = _jsonl(tmp_path / "docs.jsonl", '{"text": "a", "metadata": {"x": ' + number + "}}")
    assert _items(path) == [
        (":1", "`metadata`: numbers must be finite (JSON has no NaN or Infinity)")
    ]


def test_lone_surrogates_in_text_are_dropped_as_the_server_drops_them(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "docs.jsonl", '{"text": "caf\\ud800e"}')
    (item,) = sources.list_items(path, "s")
    assert item.doc is not None
    assert item.doc.body["text"] == "cafe"
    assert item.doc.key == content_key(b"cafe", "s")


def test_lines_that_are_not_objects_or_not_json_name_their_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "docs.jsonl", "false", "[]", "{oops", "[" * 100_000, {"text": "ok"})
    assert _items(path) == [
        (":1", "expected a JSON object"),
        (":2", "expected a JSON object"),
        (":3", "not JSON (Expecting property name enclosed in double quotes)"),
        (":4", "not JSON (nested too deeply)"),
        (":5", None),
    ]


def test_an_empty_list_is_one_entry_saying_so(tmp_path: Path) -> None:
    empty = tmp_path / "none.jsonl"
    empty.write_text("\n\n")
    header = tmp_path / "none.csv"
    header.write_text("text,key\n")
    assert _items(empty) == [("", sources.NO_ROWS)]
    assert _items(header) == [("", sources.NO_ROWS)]


def test_csv_empty_cells_are_absent_so_text_and_base64_columns_can_share_a_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "docs.csv"
    b64 = base64.b64encode(b"%PDF-1.4 a pdf").decode()
    path.write_text(f"text,content_base64,key,filename\nhello,,,\n,{b64},k2,a.pdf\n,,,\n")
    first, second, neither = sources.list_items(path, "s")
    assert first.doc is not None
    assert first.doc.body == {"key": content_key(b"hello", "s"), "metadata": {}, "text": "hello"}
    assert second.doc is not None
    assert second.doc.body == {
        "key": "k2", "metadata": {}, "content_base64": b64, "filename": "a.pdf",
    }  # fmt: skip
    assert neither.reason == "give exactly one of `text` or `content_base64`"


def test_a_csv_metadata_column_is_parsed_as_a_json_object(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_text('text,metadata,customer\na,"{""po"": 7}",acme\nb,,x\nc,not json,y\nd,[1],z\n')
    items = list(sources.list_items(path, "s"))
    assert [i.doc.body["metadata"] if i.doc else i.reason for i in items] == [
        {"po": 7, "customer": "acme"},
        {"customer": "x"},
        "the `metadata` column must hold a JSON object",
        "the `metadata` column must hold a JSON object",
    ]


def test_a_csv_that_breaks_off_says_from_which_row_and_counts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BreaksAtRow4:
        """A reader that fails after two rows, as a read error or a csv.Error would."""

        fieldnames = ("text",)

        def __init__(self, _: object) -> None:
            self.rows = iter([{"text": "first"}, {"text": "second"}])

        def __iter__(self) -> BreaksAtRow4:
            return self

        def __next__(self) -> dict[str, str]:
            row = next(self.rows, None)
            if row is None:
                raise csv.Error("unexpected end of data")
            return row

    path = tmp_path / "docs.csv"
    path.write_text("text\nfirst\nsecond\nthird\nfourth\n")
    monkeypatch.setattr(csv, "DictReader", BreaksAtRow4)
    assert _items(path) == [
        (":2", None),
        (":3", None),
        (":4", "cannot read this row or any after it: unexpected end of data"),
    ]


def test_csv_bytes_that_are_not_utf8_skip_their_row_only(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_bytes(b"text,who\nfine,a\ncaf\xe9,b\n" + b"x" * 20_000 + b",c\nlast,d\n")
    assert _items(path) == [(":2", None), (":3", "not UTF-8"), (":4", None), (":5", None)]
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text\na,extra cell\nb\n")
    assert _items(ragged) == [(":2", "more cells than the header has columns"), (":3", None)]


def test_a_row_too_large_for_a_request_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = Limits(max_document_bytes=1000, max_text_chars=1000, max_request_bytes=2000)
    monkeypatch.setattr(limits, "server", lambda: small)
    monkeypatch.setattr(limits, "ENVELOPE_BYTES", 500)
    path = _jsonl(
        tmp_path / "docs.jsonl", {"text": "x" * 1001}, {"text": '"' * 900}, {"text": "ok"}
    )
    assert _items(path) == [
        (":1", "too large (1,001 bytes > 1,000 bytes)"),  # over the document limit
        (":2", "too large (1,898 bytes > 1,500 bytes)"),  # 900 characters, 1,800 in JSON
        (":3", None),
    ]
