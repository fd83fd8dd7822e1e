"""Job input: Markdown chapters, chunks of whole sentences, numbers read as words and never cut."""

from __future__ import annotations

import base64

import pytest

from hub.errors import EmptyText, InvalidRequest
from hub.jobs.audio import Piece, join
from hub.jobs.text import Chapter, chunk_chapters, markdown_chapters, read_input


def test_markdown_headings_open_chapters_and_text_before_the_first_is_kept() -> None:
    text = "A preface line.\n\n# One\nFirst text.\n\n## Two ##\nSecond text.\n"
    chapters = markdown_chapters(text)
    assert [c.title for c in chapters] == ["", "One", "Two"]
    assert "Second text." in chapters[2].text and "First" not in chapters[2].text


def test_chunks_hold_whole_sentences_up_to_the_limit_and_numbers_as_words() -> None:
    sentences = [f"Sentence {n} has 12345 words in it." for n in range(30)]
    chunks = chunk_chapters([Chapter("", " ".join(sentences))], max_chars=120)
    assert all(len(c.text) <= 120 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)  # only whole sentences
    assert "twelve thousand three hundred forty-five" in chunks[0].text and "12345" not in chunks[0].text
    assert " ".join(c.text for c in chunks).count("Sentence") == 30


def test_a_sentence_longer_than_a_chunk_is_cut_between_words_never_inside_one() -> None:
    long = "word" + " wordy" * 80 + "."
    chunks = chunk_chapters([Chapter("", long)], max_chars=60)
    assert " ".join(c.text for c in chunks).split() == long.split()
    assert all(len(c.text) <= 60 for c in chunks)


def test_chapters_never_share_a_chunk() -> None:
    chunks = chunk_chapters([Chapter("a", "One. Two."), Chapter("b", "Three.")], max_chars=500)
    assert [(c.chapter, c.text) for c in chunks] == [(0, "One. Two."), (1, "Three.")]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(EmptyText):
        chunk_chapters([Chapter("", "  \n ")], max_chars=100)
    with pytest.raises(InvalidRequest, match="base64"):
        read_input("not base64 !!", "epub")
    with pytest.raises(InvalidRequest, match="EPUB cannot be read"):
        read_input(base64.b64encode(b"PK not a zip").decode(), "epub")
    with pytest.raises(InvalidRequest, match="input_format"):
        read_input("x", "docx")


def test_joins_put_pauses_between_chunks_and_longer_ones_between_chapters() -> None:
    second = b"\x01\x00" * 100
    pieces = [Piece(0, second, 100), Piece(0, second, 100), Piece(1, second, 100)]
    pcm, rate, marks = join(pieces, ["Intro", ""], pause_ms=200, chapter_pause_ms=1000)
    assert rate == 100 and len(pcm) == 2 * (100 + 20 + 100 + 100 + 100)
    assert [(m.title, m.start_s, m.end_s) for m in marks] == [("Intro", 0.0, 3.2), ("Chapter 2", 3.2, 4.2)]
