"""Rebuilding a page's text from Tesseract's word table, and where each word lands in it."""

from __future__ import annotations

from tasks.documents.ocr_layout import page_layout

# (level, block, par, line, conf, text) rows, as image_to_data's DICT lists them
ROWS = [
    (1, 0, 0, 0, -1, ""),  # the page
    (2, 1, 0, 0, -1, ""),  # block 1
    (3, 1, 1, 0, -1, ""),
    (4, 1, 1, 1, -1, ""),
    (5, 1, 1, 1, 96, "Invoice"),
    (5, 1, 1, 1, 91, "4471"),
    (4, 1, 1, 2, -1, ""),
    (5, 1, 1, 2, 88, "Due"),
    (5, 1, 1, 2, 90, " "),  # Tesseract's blank "words" carry a confidence too
    (5, 1, 1, 2, 70, "today"),
    (3, 1, 2, 0, -1, ""),
    (5, 1, 2, 1, 85, "Thanks"),
    (2, 2, 0, 0, -1, ""),  # block 2
    (5, 2, 1, 1, 40.5, "Page\f2"),
]


def _table(rows: list[tuple[int, int, int, int, float, str]]) -> dict[str, list[object]]:
    names = ("level", "block_num", "par_num", "line_num", "conf", "text")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def test_lines_are_newlines_blocks_are_blank_lines_and_words_are_spaced() -> None:
    text, _ = page_layout(_table(ROWS))
    assert text == "Invoice 4471\nDue today\nThanks\n\nPage 2"


def test_each_word_offset_slices_the_page_text_to_that_word() -> None:
    text, words = page_layout(_table(ROWS))
    assert [text[w.start : w.end] for w in words] == [
        "Invoice",
        "4471",
        "Due",
        "today",
        "Thanks",
        "Page 2",
    ]


def test_confidences_are_scaled_to_0_1_and_rows_without_one_are_not_words() -> None:
    _, words = page_layout(_table(ROWS))
    assert [w.conf for w in words] == [0.96, 0.91, 0.88, 0.70, 0.85, 0.405]


def test_a_page_tesseract_found_no_word_on_is_empty() -> None:
    text, words = page_layout(_table(ROWS[:4]))
    assert (text, words) == ("", [])


def test_a_first_word_in_a_later_block_gets_no_leading_separator() -> None:
    text, words = page_layout(_table([(5, 3, 1, 1, 90, "alone")]))
    assert (text, words[0].start, words[0].end) == ("alone", 0, 5)
