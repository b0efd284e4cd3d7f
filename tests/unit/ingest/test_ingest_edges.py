"""`run_ingest` on the inputs that used to stop it: odd names, bad rows, all skipped, --out
inside the folder."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from scripts.ingest.base import SourceError
from tests.unit.ingest.test_ingest_flow import FakeApi, folder, run


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_file_name_that_is_not_utf8_is_sent_and_written_as_escaped_text(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    odd = os.fsdecode(b"caf\xe9.txt")  # Latin-1 bytes: not a UTF-8 name
    (docs / odd).write_text("an invoice from a legacy share")
    (docs / "plain.txt").write_text("a plain name")
    api = FakeApi()
    out = tmp_path / "results.csv"
    run(api, [str(docs)], out)
    (_, body), *_ = api.posts
    sent = body["documents"][0]
    assert sent["filename"].endswith("caf\\xe9.txt")
    assert sent["metadata"]["path"] == sent["filename"]
    rows = _rows(out)
    assert [Path(r["path"]).name for r in rows] == ["caf\\xe9.txt", "plain.txt"]
    assert {r["status"] for r in rows} == {"succeeded"}


def test_bad_rows_of_a_list_are_skipped_and_the_good_ones_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "docs.jsonl"
    lines = [{"text": "good one"}, {"text": 0}, {"content_base64": []}, {"text": "nul", "m": "\0"}]
    rows.write_text("\n".join(json.dumps(x) for x in [*lines, {"text": "good two"}]) + "\n")
    api = FakeApi()
    out = tmp_path / "results.jsonl"
    run(api, [str(rows)], out)
    assert [d["text"] for _, b in api.posts for d in b["documents"]] == ["good one", "good two"]
    written = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["path"].rsplit(":", 1)[1], r["status"]) for r in written] == [
        ("1", "succeeded"), ("2", "skipped"), ("3", "skipped"), ("4", "skipped"),
        ("5", "succeeded"),
    ]  # fmt: skip
    assert written[1]["error"]["message"] == "`text`: Input should be a valid string"
    assert f"{rows}:2: `text`: Input should be a valid string" in capsys.readouterr().out


def test_when_every_input_is_skipped_the_out_file_still_has_a_row_for_each(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "empty.txt").write_bytes(b"")
    (docs / "junk.bin").write_bytes(b"\x00\x01\x02")
    api = FakeApi()
    out = tmp_path / "results.csv"
    with pytest.raises(SourceError, match="nothing to send: all 2 inputs skipped"):
        run(api, [str(docs)], out)
    assert api.posts == []
    assert [(Path(r["path"]).name, r["status"], r["error_message"]) for r in _rows(out)] == [
        ("empty.txt", "skipped", "empty file"),
        ("junk.bin", "skipped", "unknown type (.bin): not text, PDF or DOCX"),
    ]


def test_an_out_file_inside_the_ingested_folder_is_not_an_input_and_a_rerun_resumes(
    tmp_path: Path,
) -> None:
    docs = folder(tmp_path / "docs")
    api = FakeApi()
    out = docs / "results.csv"
    run(api, [str(docs)], out)
    first = {key for key, _ in api.posts}
    (docs / "results.csv.part").write_text("left by a crash")
    run(api, [str(docs)], out)
    assert {key for key, _ in api.posts} == first  # the same batch
    assert len(api.batches) == 1
    assert not any(Path(r["path"]).name.startswith("results.csv") for r in _rows(out))
    assert len(_rows(out)) == 7


def test_a_file_too_large_for_a_request_is_skipped_and_the_rest_is_sent(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    with (docs / "scan.pdf").open("wb") as fh:
        fh.truncate(60 * 1024 * 1024)  # sparse: as base64, more than the API takes at once
    (docs / "note.txt").write_text("small")
    api = FakeApi()
    out = tmp_path / "results.csv"
    run(api, [str(docs)], out)
    assert [len(b["documents"]) for _, b in api.posts] == [1]
    assert [(Path(r["path"]).name, r["status"], r["error_message"]) for r in _rows(out)] == [
        ("note.txt", "succeeded", ""),
        ("scan.pdf", "skipped", "too large (60.0 MiB > 47.2 MiB)"),
    ]
