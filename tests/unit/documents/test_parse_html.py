"""tasks.documents.parse on HTML: visible text only, block elements become line breaks."""

from __future__ import annotations

from tasks.documents.parse import extract_text
from tests.unit.documents.uploads import BIG, reason_of


def test_html_drops_script_and_style_and_keeps_block_boundaries() -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style></head>"
        b"<body><script>var x = 1;</script><h1>Invoice</h1><p>Total:   <b>42</b>\n EUR</p>"
        b"<ul><li>one</li><li>two</li></ul>line<br>break</body></html>"
    )
    parsed = extract_text(content=page, filename="a.html", max_chars=BIG)
    assert parsed.kind == "html"
    assert "var x" not in parsed.text
    assert "color" not in parsed.text
    lines = [line for line in parsed.text.split("\n") if line]
    assert lines == ["T", "Invoice", "Total: 42 EUR", "one", "two", "line", "break"]


def test_html_pre_keeps_indentation_and_table_cells_become_columns() -> None:
    code = b"<pre>def f():\n    return 1</pre>"
    rows = b"<tr><td>Item</td><td> Price </td></tr><tr><td>Paper</td><td>4.99</td></tr>"
    page = b"<html><body>" + code + b"<table>" + rows + b"</table></body></html>"
    parsed = extract_text(content=page, filename="a.htm", max_chars=BIG)
    assert "def f():\n    return 1" in parsed.text
    assert "Item\tPrice\n" in parsed.text
    assert "Paper\t4.99" in parsed.text


def test_html_is_detected_by_content_without_filename() -> None:
    parsed = extract_text(
        content=b"  <html><body><p>a &amp; b</p></body></html>", filename=None, max_chars=BIG
    )
    assert parsed.kind == "html"
    assert parsed.text == "a & b"


def test_html_with_only_markup_is_empty() -> None:
    assert reason_of(b"<html><script>x()</script><p> </p></html>", "a.html") == "empty"
