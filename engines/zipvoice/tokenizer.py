"""Text → ZipVoice tokens, as the official models were trained (the `emilia` tokenizer).

English becomes espeak-ng IPA (one token per codepoint, spaces and punctuation kept), Chinese becomes
pinyin split into `initial0` + TONE3 final (`zh0`, `ang1`). `<zhong1>` overrides the pinyin of one
syllable and `[tag]` is kept as one token. Tokens missing from `tokens.txt` are dropped, as upstream does.
Chinese needs `pypinyin` (the `zipvoice` extra); numbers in Chinese text are read in Chinese.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PAD = "_"
# Full-width punctuation and typographic quotes → ASCII; the several spellings of an ellipsis → `…`.
_PUNCTUATION = str.maketrans({"，": ",", "。": ".", "！": "!", "？": "?", "；": ";", "：": ":", "、": ",",
                              "“": '"', "”": '"', "‘": "'", "’": "'"})  # fmt: skip
_ELLIPSIS = re.compile(r"\.\.\.|···|⋯")
_SENTENCE_END = frozenset(";:,.!?；：，。！？")
# Segments: a pinyin override, a tag, a run of Chinese, a run of ASCII letters, or one other character.
_PIECE = re.compile(r"(?P<pinyin><[a-zü]+[1-5]>)|(?P<tag>\[[^\[\]]*\])|(?P<zh>[\u4e00-\u9fa5]+)|(?P<en>[A-Za-z]+)|(?P<other>.)",
                    re.S)  # fmt: skip
_PINYIN = re.compile(r"^[a-zü]+[1-5]$")
_CN_DIGITS = "零一二三四五六七八九"
_CN_NUMBER = re.compile(r"(-?)(\d+)(?:\.(\d+))?(%?)")


def read_tokens(path: Path) -> dict[str, int]:
    """Parse `tokens.txt`: `token<TAB>id` per line (a literal space is a token); `token id` as a fallback."""
    table: dict[str, int] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        token, sep, ident = line.rpartition("\t")
        if not sep:  # sherpa-onnx style: separated by the last space
            token, sep, ident = line.rpartition(" ")
        try:
            table[token] = int(ident)
        except ValueError:
            raise ValueError(f"{path}:{number}: expected `token<TAB>id`, got {line!r}") from None
    if PAD not in table:
        raise ValueError(f"{path}: no pad token {PAD!r}: this is not a ZipVoice tokens.txt")
    return table


def add_punctuation(text: str) -> str:
    """End the text with `.` unless it already ends with sentence punctuation (as upstream does)."""
    text = text.strip()
    return text if not text or text[-1] in _SENTENCE_END else text + "."


def normalize_punctuation(text: str) -> str:
    """Full-width punctuation and curly quotes to ASCII, ellipses to `…`."""
    return _ELLIPSIS.sub("…", text.translate(_PUNCTUATION))


def chinese_number(match: re.Match[str]) -> str:
    """`-12.5%` → `百分之负十二点五`: integers by units (十百千万亿), decimals digit by digit."""
    sign, whole, frac, percent = match.groups()
    words = ("负" if sign else "") + _cn_integer(int(whole))
    if frac:
        words += "点" + "".join(_CN_DIGITS[int(d)] for d in frac)
    return "百分之" + words if percent else words


def _cn_integer(n: int) -> str:
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    words, zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero = bool(words)
            continue
        if words and (zero or group < 1000):
            words += "零"
        words += _cn_group(group) + ("", "万", "亿", "万亿")[index]
        zero = False
    return words[1:] if words.startswith("一十") else words  # 12 → 十二, as it is read


def _cn_group(n: int) -> str:
    words, zero = "", False
    for unit, value in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        digit, n = divmod(n, value)
        if digit:
            words += ("零" if zero and words else "") + _CN_DIGITS[digit] + unit
            zero = False
        else:
            zero = True
    return words


def split_pinyin(syllable: str) -> list[str]:
    """`zhang1` → [`zh0`, `ang1`]; a syllable without initial gives only its final."""
    from pypinyin.contrib.tone_convert import to_finals_tone3, to_initials

    initial = to_initials(syllable, strict=False)
    final = to_finals_tone3(syllable, strict=False, neutral_tone_with_five=True)
    return [t for t in (initial + "0" if initial else "", final) if t]


def segments(text: str) -> list[tuple[str, str]]:
    """Split normalized text into (kind, text): `zh`, `en`, `pinyin`, `tag`.

    Other characters (digits, spaces, punctuation) join the segment before them, or the first language
    segment when they lead; text with no Chinese or English at all gives no segments (as upstream).
    """
    result: list[list[str]] = []
    leading = ""
    for match in _PIECE.finditer(text):
        kind = match.lastgroup or "other"
        piece = match.group()
        if kind == "other":
            if result and result[-1][0] in ("zh", "en"):
                result[-1][1] += piece
            else:
                leading += piece
            continue
        if result and result[-1][0] == kind and kind in ("zh", "en"):
            result[-1][1] += piece
        else:
            result.append([kind, piece])
        if leading and kind in ("zh", "en"):
            result[-1][1] = leading + result[-1][1]
            leading = ""
    return [(kind, piece) for kind, piece in result]


class Tokenizer:
    """ZipVoice's `emilia` tokenizer over one `tokens.txt`."""

    def __init__(self, table: Mapping[str, int], *, use_espeak: bool = True, use_pinyin: bool = True,
                 espeak_voice: str = "en-us") -> None:  # fmt: skip
        self.table = dict(table)
        self.use_espeak = use_espeak
        self.use_pinyin = use_pinyin
        self.espeak_voice = espeak_voice
        self.pad_id = self.table[PAD]
        self._phonemizer: Any = None
        self._warned: set[str] = set()

    @classmethod
    def from_files(cls, tokens_path: Path, metadata: Mapping[str, str] | None = None) -> Tokenizer:
        """Build from `tokens.txt` and the text encoder's metadata (`use_espeak`, `use_pinyin`)."""
        meta = metadata or {}
        return cls(read_tokens(tokens_path), use_espeak=_flag(meta.get("use_espeak")),
                   use_pinyin=_flag(meta.get("use_pinyin")))  # fmt: skip

    def tokens(self, text: str) -> list[str]:
        """The token strings for `text` (before the vocabulary lookup)."""
        result: list[str] = []
        for kind, piece in segments(normalize_punctuation(text)):
            if kind == "en":
                result += self._english(piece)
            elif kind == "zh":
                result += self._chinese(piece)
            elif kind == "pinyin":
                result += split_pinyin(piece[1:-1])
            else:
                result.append(piece)
        return result

    def known(self, tokens: Iterable[str]) -> list[str]:
        """The tokens the vocabulary knows; an unknown one is tried as its NFD parts, else dropped."""
        known: list[str] = []
        for token in tokens:
            if token in self.table:
                known.append(token)
                continue
            parts = unicodedata.normalize("NFD", token)
            if len(parts) > 1 and all(p in self.table for p in parts):
                known += list(parts)
            elif token not in self._warned:
                self._warned.add(token)
                log.debug("zipvoice: token %r is not in tokens.txt; dropped", token)
        return known

    def encode(self, text: str) -> tuple[list[str], list[int]]:
        """Known tokens and their ids for `text`, with the final punctuation upstream adds."""
        tokens = self.known(self.tokens(add_punctuation(text)))
        return tokens, [self.table[t] for t in tokens]

    def _english(self, text: str) -> list[str]:
        if not self.use_espeak:
            return list(text)
        # Numbers and symbols arrive already read out: the hub normalizes text before any engine sees it.
        if self._phonemizer is None:
            from engines.core.espeak import EspeakPhonemizer

            self._phonemizer = EspeakPhonemizer()
        phonemes = self._phonemizer.phonemize([text], self.espeak_voice)[0]
        return list(phonemes)

    def _chinese(self, text: str) -> list[str]:
        if not self.use_pinyin:
            return []
        try:
            from pypinyin import Style, lazy_pinyin
        except ImportError:
            raise ImportError(
                "Chinese text needs pypinyin: pip install 'voxhub[zipvoice]' (or pip install pypinyin)"
            ) from None
        text = _CN_NUMBER.sub(chinese_number, text)
        result: list[str] = []
        for item in lazy_pinyin(text, style=Style.TONE3, tone_sandhi=True, neutral_tone_with_five=True):
            result += split_pinyin(item) if _PINYIN.match(item) else list(item)
        return result


def _flag(value: str | None) -> bool:
    # Exports between two upstream releases wrote "True"; newer ones write "1". Absent = enabled.
    return value is None or value.strip().lower() in ("1", "true", "yes")
