"""Text that arrives piece by piece (LLM deltas): how much of it is complete sentences, ready to speak."""

from __future__ import annotations

import re

from hub.text.sentences import CLAUSE_END, SENTENCE_MAX_CHARS, TERMINAL, is_abbreviation

_LIST_NUMBER = re.compile(r"\s*\d{1,3}")  # "1." opening a markdown list item, not a sentence


_NONSPACE = re.compile(r"\S")
_WORD_WINDOW = 256  # the abbreviation check looks at the last word before a full stop: never further back
_LIST_WINDOW = 64  # "  12." opens a list item; a longer stretch before the dot never does


class PrefixScanner:
    """`complete_prefix` for a text that grows piece by piece (LLM deltas): each `add` scans only the new
    text and the one undecided sentence end before it, so a whole stream costs linear time."""

    def __init__(self, max_chars: int = SENTENCE_MAX_CHARS) -> None:
        self.max_chars = max_chars
        self.text = ""
        """The pending text: everything added and not yet taken."""
        self._line_start = 0
        self._sentence_end = 0  # end of the last complete sentence (or line) in `text`
        self._pos = 0  # sentence ends before this are decided

    def add(self, piece: str) -> None:
        start = len(self.text)
        self.text += piece
        newline = piece.rfind("\n")
        if newline >= 0:  # a line ends at its newline: only the last line is still open
            self._line_start = self._sentence_end = self._pos = start + newline + 1
        text = self.text
        for m in TERMINAL.finditer(text, self._pos):
            following = _NONSPACE.search(text, m.end())
            if following is None:
                self._pos = m.start()  # the next word decides whether the sentence goes on: wait for it
                return
            self._pos = m.end()
            if self._ends_sentence(m, text[following.start()]):
                self._sentence_end = m.end()
        self._pos = len(text)

    def _ends_sentence(self, m: re.Match[str], following: str) -> bool:
        if following.islower():
            return False
        if m.group(0) == ".":
            before = self.text[max(self._line_start, m.start() - _WORD_WINDOW) : m.start()]
            if is_abbreviation(before):
                return False
            if m.start() - self._line_start <= _LIST_WINDOW and _LIST_NUMBER.fullmatch(before):
                return False
        return True

    def cut(self) -> int:
        """How many leading characters of `text` are complete (see `complete_prefix`)."""
        cut = self._sentence_end
        # Only the first max_chars + 1 characters of the tail can hold a break (the +1: the lookahead).
        window = self.text[cut : cut + self.max_chars + 1]
        if len(self.text) - cut > self.max_chars:
            breaks = [m.end() for m in CLAUSE_END.finditer(window) if m.end() <= self.max_chars]
            if not breaks:
                breaks = [m.start() for m in re.finditer(r"\s", window) if 0 < m.start() <= self.max_chars]
            if breaks:
                cut += breaks[-1]
        return cut

    def take(self) -> str:
        """Remove and return the complete prefix ("" when nothing is complete yet)."""
        cut = self.cut()
        if not cut:
            return ""
        done, self.text = self.text[:cut], self.text[cut:]
        # What is left starts a new stretch, as if it were the start of a line.
        self._line_start = max(self._line_start - cut, 0)
        self._sentence_end = max(self._sentence_end - cut, 0)
        self._pos = max(self._pos - cut, 0)
        return done


def complete_prefix(text: str, max_chars: int = SENTENCE_MAX_CHARS) -> int:
    """How many leading characters of a growing text are complete sentences (text still arriving, e.g. LLM deltas).

    A line ends at its newline; a sentence once its end punctuation is followed by a space and the next word
    has begun, so "e.g. this", "Wait... what?" and "1. First" are not cut early. A tail longer than max_chars
    with no end yet is cut at its last clause break (else its last space), so first audio never waits on it.
    For a text that grows, keep a `PrefixScanner` instead: it does not scan the same text twice.
    """
    scanner = PrefixScanner(max_chars)
    scanner.add(text)
    return scanner.cut()
