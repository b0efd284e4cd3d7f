"""Walking the inputs of an ingest, and the batch key their manifest makes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from scripts.ingest import exports, manifest
from scripts.ingest.sources import SourceError


def _tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / ".DS_Store").write_bytes(b"Bud1\x00\x00\x10\x00")
    (root / "empty.md").write_bytes(b"")
    (root / "README").write_text("no extension")
    (root / "sub" / "rows.csv").write_text("text\nhello\n")
    (root / "sub" / "z.bin").write_bytes(b"\x00\x01")


def _names(inputs: list[manifest.Input], root: Path) -> list[str]:
    return [Path(i.path).relative_to(root).as_posix() for i in inputs]


def test_every_regular_file_under_a_folder_is_an_input_in_sorted_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("in a folder sorted before a.txt")
    inputs = manifest.walk([str(tmp_path)])
    assert _names(inputs, tmp_path) == [
        ".DS_Store", "README", "a/x.txt", "a.txt", "empty.md", "sub/rows.csv", "sub/z.bin",
    ]  # fmt: skip
    lists = [i for i in inputs if i.reason]
    assert [Path(i.path).name for i in lists] == ["rows.csv"]
    assert "inside a folder" in (lists[0].reason or "")


def test_a_list_named_on_the_command_line_is_read_row_by_row(tmp_path: Path) -> None:
    _tree(tmp_path)
    (named,) = manifest.walk([str(tmp_path / "sub" / "rows.csv")])
    assert named.is_list
    assert named.reason is None
    items = list(manifest.documents([named], schema="s"))
    assert [(i.path.rsplit(":", 1)[-1], i.reason) for i in items] == [("2", None)]
    both = manifest.walk([str(tmp_path), str(tmp_path / "sub" / "rows.csv")])
    assert [i for i in both if Path(i.path).name == "rows.csv"] == [named]


def test_links_pipes_and_sockets_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "broken").symlink_to(tmp_path / "nowhere")
    (tmp_path / "docs" / "linked").symlink_to(tmp_path / "elsewhere")
    os.mkfifo(tmp_path / "docs" / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "docs" / "sock"))
    try:
        inputs = manifest.walk([str(tmp_path / "docs")])
    finally:
        sock.close()
    reasons = {Path(i.path).name: i.reason for i in inputs}
    assert reasons == {
        "broken": manifest.NOT_REGULAR,
        "linked": manifest.NOT_FOLLOWED,
        "pipe": manifest.NOT_REGULAR,
        "sock": manifest.NOT_REGULAR,
    }


def test_a_missing_path_is_an_error_and_a_path_named_twice_counts_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(SourceError, match="no such file"):
        manifest.walk([str(tmp_path / "missing")])
    twice = manifest.walk([str(tmp_path / "a.txt"), str(tmp_path), str(tmp_path / "*.txt")])
    assert [Path(i.path).name for i in twice] == ["a.txt"]


def test_a_folder_that_cannot_be_listed_is_an_input_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root, permissions do not bite: the listing of one folder fails as it would.
    _tree(tmp_path)
    (tmp_path / "sub" / "deeper").mkdir()
    (tmp_path / "sub" / "deeper" / "hidden.txt").write_text("never listed")
    scandir = os.scandir
    locked = str(tmp_path / "sub")

    def refusing(path: str) -> object:
        if str(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    inputs = manifest.walk([str(tmp_path)])
    reasons = {Path(i.path).relative_to(tmp_path).as_posix(): i.reason for i in inputs}
    assert reasons["sub"] == "cannot read folder: Permission denied"
    assert [n for n in reasons if n.startswith("sub/")] == []
    assert reasons["a.txt"] is None


def test_a_path_inside_a_folder_that_cannot_be_searched_is_unreadable_not_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = str(tmp_path / "locked" / "a.txt")
    lstat = os.lstat

    def refusing(path: str) -> os.stat_result:
        if str(path) == inside:
            raise PermissionError(13, "Permission denied", path)
        return lstat(path)

    monkeypatch.setattr(os, "lstat", refusing)
    (found,) = manifest.walk([inside])
    assert (found.path, found.reason) == (inside, "cannot read: Permission denied")
    with pytest.raises(SourceError, match="no such file"):
        manifest.walk([str(tmp_path / "missing" / "a.txt")])


def test_a_literal_path_with_brackets_is_that_file_not_a_glob(tmp_path: Path) -> None:
    (tmp_path / "report[1].txt").write_text("the one named")
    (tmp_path / "report1.txt").write_text("what the glob would match")
    (found,) = manifest.walk([str(tmp_path / "report[1].txt")])
    assert Path(found.path).name == "report[1].txt"
    globbed = manifest.walk([str(tmp_path / "report[0-9].txt")])  # no such file: a glob
    assert [Path(i.path).name for i in globbed] == ["report1.txt"]


def test_a_file_over_the_servers_document_limit_is_skipped_before_it_is_read(
    tmp_path: Path,
) -> None:
    with (tmp_path / "huge.pdf").open("wb") as fh:
        fh.truncate(48 * 1024 * 1024)  # sparse: 48 MiB, as base64 more than a request takes
    (tmp_path / "ok.txt").write_text("small")
    reasons = {Path(i.path).name: i.reason for i in manifest.walk([str(tmp_path)])}
    assert reasons == {"huge.pdf": "too large (48.0 MiB > 47.2 MiB)", "ok.txt": None}


def test_the_out_file_and_its_part_are_never_inputs_so_the_key_stays(tmp_path: Path) -> None:
    _tree(tmp_path)
    key = manifest.batch_key(manifest.walk([str(tmp_path)]), schema="s@1", tier="auto")
    out = tmp_path / "sub" / "results.csv"
    (tmp_path / "sub" / "results.csv.part").write_text("half written")
    out.write_text("path,status\n")
    (tmp_path / "results.csv").write_text("text\nanother folder's file of that name\n")
    found = manifest.walk([str(tmp_path)], exclude=exports.own_files(out))
    assert "sub/results.csv" not in _names(found, tmp_path)
    assert "sub/results.csv.part" not in _names(found, tmp_path)
    assert "results.csv" in _names(found, tmp_path)
    (tmp_path / "results.csv").unlink()
    again = manifest.walk([str(tmp_path)], exclude=exports.own_files(out))
    assert manifest.batch_key(again, schema="s@1", tier="auto") == key


def test_the_batch_key_follows_the_files_stat_and_not_their_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    a, readme = str(tmp_path / "a.txt"), str(tmp_path / "README")

    def key(*paths: str, schema: str = "invoice@1", tier: str = "auto") -> str:
        return manifest.batch_key(manifest.walk(list(paths)), schema=schema, tier=tier)

    first = key(a, readme)
    assert first.startswith("ingest:")
    assert len(first) <= 200  # the Idempotency-Key header's limit
    assert key(readme, a) == first
    assert key(a, readme, schema="invoice@2") != first
    assert key(a, readme, tier="low") != first
    assert key(a) != first
    stat = (tmp_path / "a.txt").stat()
    os.utime(tmp_path / "a.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert key(a, readme) != first


def test_a_named_run_keeps_its_key_when_the_files_change(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    before = manifest.walk([str(tmp_path)])
    (tmp_path / "b.txt").write_text("two")
    after = manifest.walk([str(tmp_path)])
    named = [manifest.batch_key(i, schema="s@1", tier="auto", run="march") for i in (before, after)]
    assert named[0] == named[1]
    assert named[0].startswith("ingest-run:")
    other = manifest.batch_key(after, schema="s@1", tier="auto", run="april")
    assert other != named[0]
    unnamed = [manifest.batch_key(i, schema="s@1", tier="auto") for i in (before, after)]
    assert unnamed[0] != unnamed[1]


def test_documents_account_for_every_input_with_a_reason_for_each_skip(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "gone.txt").write_text("soon deleted")
    inputs = manifest.walk([str(tmp_path)])
    (tmp_path / "gone.txt").unlink()  # read fails after the walk found it
    items = {Path(i.path).name: i for i in manifest.documents(inputs, schema="s")}
    assert {name: item.reason for name, item in items.items() if item.doc is None} == {
        ".DS_Store": "unknown type (no extension): not text, PDF or DOCX",
        "empty.md": "empty file",
        "gone.txt": "cannot read: No such file or directory",
        "rows.csv": "a document list (.csv) inside a folder: name it to send its rows",
        "z.bin": "unknown type (.bin): not text, PDF or DOCX",
    }
    assert items["README"].doc is not None
    assert items["README"].doc.body["text"] == "no extension"
    assert manifest.count(inputs) == len(items)
