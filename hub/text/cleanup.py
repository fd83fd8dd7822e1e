"""Language-neutral cleanup: emoji and pictographs removed, markdown reduced to its words, whitespace
collapsed to one line per block (heading, list item, paragraph), lines without anything to say dropped."""

from __future__ import annotations

import re

# Pictographs, dingbats, arrows, geometric shapes, the joiners and selectors that build emoji sequences, and
# the trademark signs nobody reads aloud. Removed before NFKC, which would turn "™" into "TM".
PICTOGRAPHS = re.compile(
    "[\u00a9\u00ae\u2122\u200d\u20e3\u2190-\u21ff\u2300-\u23ff\u25a0-\u27bf\u2b00-\u2bff"
    "\u3030\u303d\u3297\u3299\ufe00-\ufe0f\U0001f000-\U0001faff\U000e0020-\U000e007f]"
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE_LINE = re.compile(r"^\s*([-*_=])(?:\s*\1){2,}\s*$")
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_INLINE_MARKDOWN = [
    (re.compile(r"!?\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # [text](url), ![alt](src)
    (re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"<((?:https?://|mailto:)[^>\s]+)>"), r"\1"),  # <https://...>
    (re.compile(r"\bmailto:"), ""),
    (re.compile(r"`+([^`\n]+?)`+"), r"\1"),
    (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)"), r"\1"),
    # a lone "*" or "_" next to spaces is arithmetic or snake_case, not emphasis
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
]
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?])(?=\s|$)")


def strip_markdown(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if _FENCE.match(line) or _RULE_LINE.match(line) or _LINK_DEFINITION.match(line):
            continue  # code fences and rules are layout; the code itself is kept, not silently dropped
        line = _QUOTE.sub("", line)
        line = _HEADING.sub(r"\1", line)
        lines.append(_BULLET.sub("", line))
    text = "\n".join(lines)
    for pattern, replacement in _INLINE_MARKDOWN:
        text = pattern.sub(replacement, text)
    return text


def speakable(text: str) -> bool:
    return any(char.isalnum() for char in text)


def collapse(text: str) -> str:
    lines = (_SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(line.split())) for line in text.splitlines())
    return "\n".join(line for line in lines if speakable(line))
