"""Sentence splitting: text (already normalized) cut into the sentences a TTS engine reads one at a time.

A full stop after a title ("Dr."), "e.g.", an initial ("J. R. R.") or dotted letters ("U.S.") or before a
lower-case word ends no sentence; every line is its own sentence. A sentence over max_chars is cut at its
clause breaks (, ; : —), a clause still too long between words; a single word longer than max_chars is sent
whole rather than cut. The first sentence is cut at its first clause break (within FIRST_SENTENCE_CHARS),
else, when longer than that, after FIRST_WORDS words (never between two number words), so the first audio
comes early; later sentences stay whole.
"""

from __future__ import annotations

import re

from hub.text.cleanup import speakable
from hub.text.english import TITLES

SENTENCE_MAX_CHARS = 400
# The first sentence is cut at its first clause break (, ; : —) within this many characters, or after a few
# words when it is longer than this, so the first audio comes sooner.
FIRST_SENTENCE_CHARS = 100
# Without a clause break there, the first sentence is cut after this many words (never inside a number).
FIRST_WORDS = 6

# Terminal punctuation with any closing quotes or brackets, before a space or the end of the line.
TERMINAL = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)")
# Words whose full stop does not end a sentence even before a capital ("Dr. Smith").
_NO_BREAK_AFTER = frozenset({t.lower() for t in TITLES} | {"vs", "e.g", "i.e", "a.k.a", "approx", "incl"})
_DOTTED_LETTERS = re.compile(r"(?:[a-z]\.)+[a-z]")  # "U.S."
# English number words (numbers are spelled out before splitting): a cut between two of them splits a number.
_NUMBER_WORDS = frozenset(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
        "hundred",
        "thousand",
        "million",
        "billion",
        "trillion",
        "point",
        "oh",
        "and",
    ]
)
# Words that lean on the next one: a pause right after them sounds broken ("the | number").
_NO_CUT_AFTER = frozenset(
    ["a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "from", "and", "or", "but", "my",
     "your", "his", "her", "its", "our", "their", "this", "that", "these", "those", "is", "are", "was", "were",
     "be"]
)  # fmt: skip
_CLAUSE_BREAK = re.compile(r"(?<=[,;:—–])\s+")
CLAUSE_END = re.compile(r"[,;:—–](?=\s)")


def is_abbreviation(before: str) -> bool:
    words = before.split()
    token = words[-1].lstrip("\"'“‘([") if words else ""
    if len(token) == 1 and token.isupper() and token != "I":
        return True  # an initial: "J. R. R. Tolkien"
    return token.lower() in _NO_BREAK_AFTER or bool(_DOTTED_LETTERS.fullmatch(token.lower()))


def _sentences(line: str) -> list[str]:
    pieces, start = [], 0
    for m in TERMINAL.finditer(line):
        rest = line[m.end() :].lstrip()
        # "Wait... what?" and '"Stop!" he said.' go on in lower case: the same sentence
        if rest and (rest[0].islower() or (m.group(0) == "." and is_abbreviation(line[: m.start()]))):
            continue
        pieces.append(line[start : m.end()].strip())
        start = m.end()
    pieces.append(line[start:].strip())
    return [piece for piece in pieces if piece]


def _pack(parts: list[str], limit: int) -> list[str]:
    chunks: list[str] = []
    for part in parts:
        if chunks and len(chunks[-1]) + 1 + len(part) <= limit:
            chunks[-1] += " " + part
        else:
            chunks.append(part)
    return chunks


def _fit(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    # clause by clause; a clause too long on its own goes word by word (a word longer than limit stays whole)
    parts: list[str] = []
    for clause in _CLAUSE_BREAK.split(sentence):
        parts.extend(_pack(clause.split(), limit) if len(clause) > limit else [clause])
    return _pack(parts, limit)


def _is_number_word(word: str) -> bool:
    token = word.strip(".,;:!?\"'()").lower()
    return bool(token) and (
        token[0].isdigit() or all(part in _NUMBER_WORDS for part in token.split("-") if part)
    )


def _cut_early(sentence: str, limit: int) -> list[str]:
    """The first sentence in two: at its first clause break ("Sure, | the lights are on."), else, when it is
    longer than `limit`, after FIRST_WORDS words.

    The listener hears the first clause while the rest is synthesized: the shorter it is, the sooner. A word
    cut never falls inside a number ("twenty | twenty-four") nor right after a word that leans on the next
    one ("the | number"); either cut leaves at least two words after it."""
    for m in CLAUSE_END.finditer(sentence):
        if m.end() > limit:
            break
        rest = sentence[m.end() :].strip()
        if len(rest.split()) >= 2:
            return [sentence[: m.end()], rest]
    if len(sentence) <= limit:
        return [sentence]
    words = sentence.split(" ")
    for n in range(FIRST_WORDS, len(words) - 1):
        head = " ".join(words[:n])
        if len(head) > limit:
            break
        before = words[n - 1].lower()
        if before not in _NO_CUT_AFTER and not (_is_number_word(before) and _is_number_word(words[n])):
            return [head, " ".join(words[n:])]
    return [sentence]


def split_sentences(
    text: str, max_chars: int = SENTENCE_MAX_CHARS, *, first_chars: int | None = FIRST_SENTENCE_CHARS
) -> list[str]:
    """Split text into non-empty sentences of at most max_chars, the first cut early at a clause break."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    out = [
        chunk
        for line in text.splitlines()
        for sentence in _sentences(" ".join(line.split()))
        for chunk in _fit(sentence, max_chars)
        if speakable(chunk)
    ]
    if out and first_chars:
        out[:1] = _cut_early(out[0], first_chars)
    return out
