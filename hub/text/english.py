"""English normalization: the rules that rewrite written English as it is read aloud.

Readings a listener will notice:
- Numbers are read the American way, without "and": "101" -> "one hundred one", "3.14" -> "three point one
  four"; with a leading zero, digit by digit: "007" -> "zero zero seven".
- Years: a bare four-digit number from 1100 to 2099 (not money, a percentage, a measure or part of a longer
  number) is read as a year: "1999" -> "nineteen ninety-nine", "2005" -> "two thousand five",
  "2024" -> "twenty twenty-four". Written with a separator ("1,999") it is read as a number.
- Times: "7:30" -> "seven thirty", "7:00" -> "seven o'clock", "7:05 pm" -> "seven oh five p m". 24-hour times
  are read the 12-hour way most English listeners use: "14:00" -> "two p m", "00:00" -> "midnight".
- Ranges: "5-10" and "5–10" -> "five to ten"; but "555-1234" (3 digits, dash, 4) is a phone number, read
  digit by digit.
- Titles, street names and common abbreviations are expanded ("Dr. Smith", "Elm Dr.", "e.g."); web and
  e-mail addresses are spelled out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hub.text import english_words as w

# A number: "1,234" (thousands grouped by commas), "42", with an optional ".5".
_NUM = r"(?P<num>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?P<frac>\.\d+)?"
# A minus sign, only where it cannot be a hyphen ("x-5") or a range ("3-4").
_SIGN = r"(?:(?<![\w.])(?P<sign>[-−]))?"
# Not inside a word or after "1." (so "v1.2" and "3.14" stay whole), but fine after "...".
_START = r"(?<!\w)(?<!\w\.)"

_SPELLED = str.maketrans(
    {".": " dot ", "/": " slash ", "-": " dash ", "_": " underscore ", "@": " at ", "+": " plus "}
    | {":": " colon ", "~": " tilde ", "=": " equals ", "%": " percent "}
)


def _spell(address: str) -> str:
    return " ".join(address.translate(_SPELLED).split())


def _url(m: re.Match[str]) -> str:
    url = m.group(0).rstrip(".,;:!?")  # the sentence's punctuation, not the address's
    tail = m.group(0)[len(url) :]
    url = re.sub(r"(?i)^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?", "", url)
    # query strings and fragments are noise to a listener
    return _spell(re.split(r"[?#]", url, maxsplit=1)[0].rstrip("/")) + tail


TITLES = {
    "Dr": "Doctor",
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "St": "Saint",
    "Prof": "Professor",
    "Mt": "Mount",
    "Capt": "Captain",
    "Gen": "General",
    "Lt": "Lieutenant",
    "Rev": "Reverend",
    "Sgt": "Sergeant",
}
_AFTER_NAME = {
    "St": "Street",
    "Dr": "Drive",
    "Ave": "Avenue",
    "Rd": "Road",
    "Blvd": "Boulevard",
    "Jr": "Junior",
    "Sr": "Senior",
}
# (pattern, expansion, may end a sentence: keep its full stop when the next sentence seems to start)
_ABBREVIATIONS = [
    (r"(?<!\w)(?i:e\.g\.)", "for example", False),
    (r"(?<!\w)(?i:i\.e\.)", "that is", False),
    (r"(?<!\w)(?i:a\.k\.a\.)", "also known as", False),
    (r"\b(?i:etc)\b\.?", "et cetera", True),
    (r"\b(?i:vs)\b\.?", "versus", False),
    (r"\b(?i:approx)\.", "approximately", False),
    (r"\b(?i:incl)\.", "including", False),
    (r"\bInc\.", "Incorporated", True),
    (r"\bLtd\.", "Limited", True),
    (r"\bDr\.", "Doctor", False),
    (r"\bMr\.", "Mister", False),
    (r"\bMrs\.", "Missus", False),
    (r"\bMs\.", "Miz", False),
    (r"\b(?i:no)\.\s?(?=\d)", "number ", False),
    (r"#(?=\d)", "number ", False),
]


def _expand(word: str, keep_full_stop: bool) -> Callable[[re.Match[str]], str]:
    def expand(m: re.Match[str]) -> str:
        at_start = re.search(r"(?:^|[.!?]\s+)$", m.string[: m.start()]) is not None
        out = word[0].upper() + word[1:] if at_start and m.group(0)[0].isupper() else word
        return out + (w.full_stop(m) if keep_full_stop else "")

    return expand


def _after_name(m: re.Match[str]) -> str:
    return f"{m['prev']}{m['sep']}{_AFTER_NAME[m['abbr']]}{w.full_stop(m)}"


_AMPM = r"(?:\s?(?P<ap>[aApP])\.?[mM]\b\.?)"
_ENGLISH_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # addresses first: their dots, digits and dashes are not sentences, decimals or ranges
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), lambda m: _spell(m.group(0))),
    (
        re.compile(
            r"(?i)\b(?:https?://|www\.)[^\s<>\"'`()]+"
            r"|(?<![\w.-])(?:[a-z0-9-]+\.)+(?:com|org|net|io|dev|ai|app|gov|edu|uk|de|fr|eu)\b(?:/[^\s<>\"'`()]*)?"
        ),
        _url,
    ),
    # "Dr." before a name is a title; after one ("Elm Dr.", "5th St.") it is part of an address
    (
        re.compile(r"\b(?:(Mr|Mrs|Ms|Dr|St)\.?|(Prof|Mt|Capt|Gen|Lt|Rev|Sgt)\.)(?=\s+[A-Z])"),
        lambda m: TITLES[m[1] or m[2]],
    ),
    (re.compile(r"\b(?P<prev>[A-Z0-9][\w']*)(?P<sep>,?\s+)(?P<abbr>St|Dr|Ave|Rd|Blvd|Jr|Sr)\."), _after_name),
    *((re.compile(pattern), _expand(word, keep)) for pattern, word, keep in _ABBREVIATIONS),
    (
        re.compile(
            r"(?<![\w-])(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])-(?P<day>0[1-9]|[12]\d|3[01])(?![\w-])"
        ),
        w.say_iso_date,
    ),
    # phone numbers, digit by digit: "555-1234", "(555) 123-4567", "555-123-4567"
    (
        re.compile(r"(?<![\w-])(?:\(\d{3}\) ?|\d{3}-)?\d{3}-\d{4}(?![\w-])"),
        lambda m: ", ".join(w.digit_words(d) for d in re.findall(r"\d+", m.group(0))),
    ),
    # versions and addresses: "1.2.3" -> "one dot two dot three"
    (
        re.compile(r"(?<![\w.])\d+(?:\.\d+){2,}(?!\w|\.\d)"),
        lambda m: " dot ".join(w.number_words(part) for part in m.group(0).split(".")),
    ),
    (
        re.compile(
            r"(?<![\w.,:–-])(?P<low>\d+(?::[0-5]\d)?)(?:-|\s?–\s?)(?P<high>\d+(?::[0-5]\d)?)(?![.,:]?\d|[-–]\d)"
        ),
        r"\g<low> to \g<high>",
    ),
    (
        re.compile(
            r"(?<![\w.:,])(?P<hour>[01]?\d|2[0-3])(?!\d)(?::(?P<min>[0-5]\d)(?![\d:]))?" + _AMPM + "?"
        ),
        w.say_time,
    ),
    (
        re.compile(
            _SIGN
            + r"(?<!\w)(?P<sym>[$€£¥₹])\s?"
            + _NUM
            + r"(?:\s(?P<scale>thousand|million|billion|trillion)\b|(?P<abbr>bn|[kKmMB])\b)?"
        ),
        w.say_money,
    ),
    (re.compile(_SIGN + _START + _NUM + r"\s?(?P<sym>€)"), w.say_money),
    (
        re.compile(_SIGN + _START + _NUM + r"\s?%"),
        lambda m: w.number_words(m["num"], m["frac"], m["sign"]) + " percent",
    ),
    (
        re.compile(_START + r"(?P<year>1[1-9]\d0|20\d0)'?s\b"),
        lambda m: w.plural_words(w.year_words(int(m["year"]))),
    ),
    (
        re.compile(
            r"(?i:(?<=\bthe )|(?<=\bearly )|(?<=\bmid-)|(?<=\blate )|(?<=\bmy )|(?<=\byour )|(?<=\bhis )"
            r"|(?<=\bher )|(?<=\bour )|(?<=\btheir )|['’])(?P<decade>[1-9]0)'?s\b"
        ),
        lambda m: w.plural_words(w.int_words(int(m["decade"]))),
    ),
    (re.compile(_SIGN + _START + _NUM + r"\s?(?P<unit>" + w.UNIT_PATTERN + r")(?![\w/])"), w.say_unit),
    (
        re.compile(_START + r"(?P<num>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?i:st|nd|rd|th)\b"),
        lambda m: w.ordinal_words(int(m["num"].replace(",", ""))),
    ),
    (
        re.compile(_START + r"(?<![$€£¥₹−-])(?P<year>1[1-9]\d\d|20\d\d)(?!\w|[.,]\d)"),
        lambda m: w.year_words(int(m["year"])),
    ),
    (re.compile(_SIGN + _START + _NUM), w.say_cardinal),
    (re.compile(r"\s*&\s*"), " and "),
]


def normalize_english(text: str) -> str:
    for pattern, replacement in _ENGLISH_RULES:
        text = pattern.sub(replacement, text)
    return text
