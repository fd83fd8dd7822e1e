"""What a long-form job reads: plain text, Markdown (headings open chapters) or EPUB, cut into chunks.

A chunk is whole sentences up to `max_chars`; a longer sentence is cut at its clause breaks, then between
words. Text is normalized first (hub.text), so numbers are already words and a cut never splits one.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from hub import text as textproc
from hub.errors import EmptyText, InvalidRequest

INPUT_FORMATS: dict[str, tuple[str, ...]] = {
    "text": (".txt",),
    "markdown": (".md", ".markdown"),
    "epub": (".epub",),
}
"""A job's `input_format`s, each with the file suffixes it is read from (`voxhub job submit FILE`)."""
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)(?:\s+#+)?\s*$")


@dataclass(frozen=True)
class Chapter:
    title: str
    text: str


@dataclass(frozen=True)
class Chunk:
    chapter: int
    text: str


def input_format_of(path: Path) -> str:
    """The `input_format` of a file by its suffix: Markdown, EPUB, else plain text."""
    suffix = path.suffix.lower()
    return next((fmt for fmt, suffixes in INPUT_FORMATS.items() if suffix in suffixes), "text")


def plain_chapters(text: str, title: str = "") -> list[Chapter]:
    return [Chapter(title, text)]


def markdown_chapters(text: str) -> list[Chapter]:
    """One chapter per heading (any level); text before the first heading is a chapter without a title."""
    chapters: list[Chapter] = []
    title, lines = "", list[str]()
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            if "".join(lines).strip() or title:
                chapters.append(Chapter(title, "\n".join(lines)))
            title, lines = heading.group(1).strip(), [heading.group(1).strip() + "."]
        else:
            lines.append(line)
    if "".join(lines).strip():
        chapters.append(Chapter(title, "\n".join(lines)))
    return chapters


class _TextOfHtml(HTMLParser):
    """Visible text of an XHTML document: block elements end lines, the first heading is the title."""

    BLOCKS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag in ("h1", "h2", "h3") and not self.title:
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.title = " ".join("".join(self._heading).split())
            self._heading = None
            self.parts.append(".")
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data)
        if self._heading is not None:
            self._heading.append(data)


def epub_chapters(data: bytes) -> list[Chapter]:
    """One chapter per document of the book's reading order (its spine) that has text."""
    import ebooklib
    from ebooklib import epub

    try:
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises many kinds (zip, XML, missing files)
        raise InvalidRequest(
            f"the EPUB cannot be read ({exc}): send a valid .epub file", param="input"
        ) from None
    chapters = []
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        parser = _TextOfHtml()
        parser.feed(item.get_content().decode("utf-8", errors="replace"))
        body = "".join(parser.parts)
        if body.strip(" .\n"):
            chapters.append(Chapter(parser.title, body))
    return chapters


def read_input(value: str, fmt: str) -> list[Chapter]:
    """The chapters of a job's `input` in `input_format` (EPUB arrives base64-encoded)."""
    if fmt == "text":
        return plain_chapters(value)
    if fmt == "markdown":
        return markdown_chapters(value)
    if fmt == "epub":
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("an EPUB `input` must be base64-encoded", param="input") from None
        return epub_chapters(data)
    raise InvalidRequest(f"input_format {fmt!r} is unknown: use one of {', '.join(INPUT_FORMATS)}",
                         param="input_format")  # fmt: skip


def chunk_chapters(
    chapters: list[Chapter], max_chars: int, normalize_text: bool = True, language: str = "en"
) -> list[Chunk]:
    """Chunks of whole sentences, at most `max_chars` each, never across a chapter; text normalized in the
    voice's `language` first."""
    chunks: list[Chunk] = []
    for number, chapter in enumerate(chapters):
        body = textproc.normalize(chapter.text, language) if normalize_text else chapter.text
        sentences = textproc.split_sentences(body, max_chars, first_chars=None)
        current = ""
        for sentence in sentences:
            if current and len(current) + 1 + len(sentence) > max_chars:
                chunks.append(Chunk(number, current))
                current = sentence
            else:
                current = f"{current} {sentence}" if current else sentence
        if current:
            chunks.append(Chunk(number, current))
    if not chunks:
        raise EmptyText("the job's input has no text to speak", param="input")
    return chunks
