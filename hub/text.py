"""The text front end: turns what a client sends into sentences a TTS engine reads well.

`prepare` is the hub's entry point: it refuses empty or overlong input, `normalize`s the text and
`split_sentences` it, so the first sentence can be synthesized and sent while the rest waits.

Readings a listener will notice (English):
- Numbers are read the American way, without "and": "101" -> "one hundred one", "3.14" -> "three point one
  four"; with a leading zero, digit by digit: "007" -> "zero zero seven".
- Years: a bare four-digit number from 1100 to 2099 (not money, a percentage, a measure or part of a longer
  number) is read as a year: "1999" -> "nineteen ninety-nine", "2005" -> "two thousand five",
  "2024" -> "twenty twenty-four". Written with a separator ("1,999") it is read as a number.
- Times: "7:30" -> "seven thirty", "7:00" -> "seven o'clock", "7:05 pm" -> "seven oh five p m". 24-hour times
  are read the 12-hour way most English listeners use: "14:00" -> "two p m", "00:00" -> "midnight".
- Ranges: "5-10" and "5–10" -> "five to ten"; but "555-1234" (3 digits, dash, 4) is a phone number, read
  digit by digit.
- Newlines are kept: every line (heading, list item, paragraph) is its own sentence.

Splitting: a full stop after a title ("Dr."), "e.g.", an initial ("J. R. R.") or dotted letters ("U.S.") or
before a lower-case word ends no sentence. A sentence over max_chars is cut at its clause breaks (, ; : —), a
clause still too long between words; a single word longer than max_chars is sent whole rather than cut.
The first sentence is cut at its first clause break (within FIRST_SENTENCE_CHARS), else, when longer than
that, after FIRST_WORDS words (never between two number words), so the first audio comes early; later
sentences stay whole.

The hub normalizes once the voice is known, in the voice's language. English has the rules above, its
number words from num2words (hub/numbers.py). Every other language num2words knows gets hub/numbers.py's
`speak_numbers` (decimal comma or point, money, percent, units, dates and times where tabled); the rest get
the language-neutral cleanup (markdown, emoji, whitespace). A language with rules of its own goes into
_LANGUAGE_RULES.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from hub import numbers
from hub.errors import EmptyText, TextTooLong

SENTENCE_MAX_CHARS = 400
# The first sentence is cut at its first clause break (, ; : —) within this many characters, or after a few
# words when it is longer than this, so the first audio comes sooner.
FIRST_SENTENCE_CHARS = 100
# Without a clause break there, the first sentence is cut after this many words (never inside a number).
FIRST_WORDS = 6

# --- Language-neutral cleanup ----------------------------------------------------------------------------

# Pictographs, dingbats, arrows, geometric shapes, the joiners and selectors that build emoji sequences, and
# the trademark signs nobody reads aloud. Removed before NFKC, which would turn "™" into "TM".
_PICTOGRAPHS = re.compile(
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


def _strip_markdown(text: str) -> str:
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


def _speakable(text: str) -> bool:
    return any(char.isalnum() for char in text)


def _collapse(text: str) -> str:
    lines = (_SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(line.split())) for line in text.splitlines())
    return "\n".join(line for line in lines if _speakable(line))


# --- English: words ----------------------------------------------------------------------------------------

# fmt: off
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# fmt: on
_LAST_WORD = re.compile(r"[a-z]+$")


def _int_words(n: int) -> str:
    return numbers.cardinal(n, "en")  # num2words, the American way: "one hundred one"


def _digit_words(digits: str) -> str:
    return numbers.digits(digits, "en")


def _number_words(num: str, frac: str | None = None, sign: str | None = None) -> str:
    digits = num.replace(",", "")
    # "007" and numbers too long to say as one are read digit by digit
    words = _digit_words(digits) if (digits[0] == "0" and len(digits) > 1) or len(digits) > 15 else None
    words = words or _int_words(int(digits))
    if frac:
        words += " point " + _digit_words(frac.lstrip("."))
    return f"minus {words}" if sign else words


def _ordinal_words(n: int) -> str:
    return numbers.ordinal(n, "en")


def _plural_words(words: str) -> str:
    def plural(m: re.Match[str]) -> str:
        word = m.group(0)
        return word[:-1] + "ies" if word.endswith("y") else word + "s"

    return _LAST_WORD.sub(plural, words)


def _year_words(year: int) -> str:
    century, rest = divmod(year, 100)
    if 2000 <= year <= 2009:
        return _int_words(year)  # "two thousand five", not "twenty oh five"
    if rest == 0:
        return f"{_int_words(century)} hundred"
    return f"{_int_words(century)} {'oh ' if rest < 10 else ''}{_int_words(rest)}"


# --- English: rules ----------------------------------------------------------------------------------------

# A number: "1,234" (thousands grouped by commas), "42", with an optional ".5".
_NUM = r"(?P<num>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?P<frac>\.\d+)?"
# A minus sign, only where it cannot be a hyphen ("x-5") or a range ("3-4").
_SIGN = r"(?:(?<![\w.])(?P<sign>[-−]))?"
# Not inside a word or after "1." (so "v1.2" and "3.14" stay whole), but fine after "...".
_START = r"(?<!\w)(?<!\w\.)"
# After an abbreviation or "p.m." that swallowed a full stop: the next sentence seems to start here.
_SENTENCE_FOLLOWS = re.compile(r"\s*$|\s*\n|\s+[\"'“‘(]?[A-Z]")


def _full_stop(m: re.Match[str]) -> str:
    return "." if m.group(0).endswith(".") and _SENTENCE_FOLLOWS.match(m.string, m.end()) else ""


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


_TITLES = {
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
        return out + (_full_stop(m) if keep_full_stop else "")

    return expand


def _after_name(m: re.Match[str]) -> str:
    return f"{m['prev']}{m['sep']}{_AFTER_NAME[m['abbr']]}{_full_stop(m)}"


def _iso_date(m: re.Match[str]) -> str:
    month, day = _MONTHS[int(m["month"]) - 1], _ordinal_words(int(m["day"]))
    return f"{month} {day}, {_year_words(int(m['year']))}"


def _clock(hour: int, minute: int, o_clock: bool = False) -> str:
    if minute == 0:
        return f"{_int_words(hour)} o'clock" if o_clock else _int_words(hour)
    return f"{_int_words(hour)} {'oh ' if minute < 10 else ''}{_int_words(minute)}"


def _time(m: re.Match[str]) -> str:
    if not m["min"] and not m["ap"]:
        return m.group(0)  # a bare number, not a time
    hour, minute = int(m["hour"]), int(m["min"] or 0)
    if m["ap"]:
        return f"{_clock(hour % 12 or 12, minute)} {m['ap'].lower()} m{_full_stop(m)}"
    if 1 <= hour <= 12:
        return _clock(hour, minute, o_clock=True)
    if hour == 0 and minute == 0:
        return "midnight"
    return f"{_clock(hour % 12 or 12, minute)} {'p' if hour >= 12 else 'a'} m"


# symbol: (one, many, one hundredth, many hundredths)
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_SCALE_ABBREVIATIONS = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "B": "billion",
    "bn": "billion",
}


def _money(m: re.Match[str]) -> str:
    groups = m.groupdict()
    one, many, hundredth, hundredths = _CURRENCIES[groups["sym"]]
    minus = "minus " if groups["sign"] else ""
    scale = groups.get("scale") or _SCALE_ABBREVIATIONS.get(groups.get("abbr") or "")
    if scale:
        return f"{minus}{_number_words(groups['num'], groups['frac'])} {scale} {many}"
    frac = groups["frac"]
    if frac and (len(frac) != 3 or not hundredth):  # "$3.5" is not dollars and cents
        return f"{minus}{_number_words(groups['num'], frac)} {many}"
    whole, cents = int(groups["num"].replace(",", "")), int(frac[1:]) if frac else 0
    parts = []
    if whole or not cents:
        parts.append(f"{_number_words(groups['num'])} {one if whole == 1 else many}")
    if cents:
        parts.append(f"{_int_words(cents)} {hundredth if cents == 1 else hundredths}")
    return minus + " and ".join(parts)


_UNITS = numbers.UNITS["en"]
# longest first, so "km/h" wins over "km" and "°C" over "°"; "20° C" is "20°C"
_UNIT_PATTERN = "|".join(re.escape(u).replace("°", "° ?") for u in sorted(_UNITS, key=len, reverse=True))


def _unit(m: re.Match[str]) -> str:
    one, many = _UNITS[m["unit"].replace(" ", "")]
    return (
        _number_words(m["num"], m["frac"], m["sign"])
        + " "
        + (one if m["num"] == "1" and not m["frac"] else many)
    )


def _cardinal(m: re.Match[str]) -> str:
    words = _number_words(m["num"], m["frac"], m["sign"])
    return words + " " if m.string[m.end() : m.end() + 1].isalpha() else words  # "5G" -> "five G"


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
        lambda m: _TITLES[m[1] or m[2]],
    ),
    (re.compile(r"\b(?P<prev>[A-Z0-9][\w']*)(?P<sep>,?\s+)(?P<abbr>St|Dr|Ave|Rd|Blvd|Jr|Sr)\."), _after_name),
    *((re.compile(pattern), _expand(word, keep)) for pattern, word, keep in _ABBREVIATIONS),
    (
        re.compile(
            r"(?<![\w-])(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])-(?P<day>0[1-9]|[12]\d|3[01])(?![\w-])"
        ),
        _iso_date,
    ),
    # phone numbers, digit by digit: "555-1234", "(555) 123-4567", "555-123-4567"
    (
        re.compile(r"(?<![\w-])(?:\(\d{3}\) ?|\d{3}-)?\d{3}-\d{4}(?![\w-])"),
        lambda m: ", ".join(_digit_words(d) for d in re.findall(r"\d+", m.group(0))),
    ),
    # versions and addresses: "1.2.3" -> "one dot two dot three"
    (
        re.compile(r"(?<![\w.])\d+(?:\.\d+){2,}(?!\w|\.\d)"),
        lambda m: " dot ".join(_number_words(part) for part in m.group(0).split(".")),
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
        _time,
    ),
    (
        re.compile(
            _SIGN
            + r"(?<!\w)(?P<sym>[$€£¥₹])\s?"
            + _NUM
            + r"(?:\s(?P<scale>thousand|million|billion|trillion)\b|(?P<abbr>bn|[kKmMB])\b)?"
        ),
        _money,
    ),
    (re.compile(_SIGN + _START + _NUM + r"\s?(?P<sym>€)"), _money),
    (
        re.compile(_SIGN + _START + _NUM + r"\s?%"),
        lambda m: _number_words(m["num"], m["frac"], m["sign"]) + " percent",
    ),
    (
        re.compile(_START + r"(?P<year>1[1-9]\d0|20\d0)'?s\b"),
        lambda m: _plural_words(_year_words(int(m["year"]))),
    ),
    (
        re.compile(
            r"(?i:(?<=\bthe )|(?<=\bearly )|(?<=\bmid-)|(?<=\blate )|(?<=\bmy )|(?<=\byour )|(?<=\bhis )"
            r"|(?<=\bher )|(?<=\bour )|(?<=\btheir )|['’])(?P<decade>[1-9]0)'?s\b"
        ),
        lambda m: _plural_words(_int_words(int(m["decade"]))),
    ),
    (re.compile(_SIGN + _START + _NUM + r"\s?(?P<unit>" + _UNIT_PATTERN + r")(?![\w/])"), _unit),
    (
        re.compile(_START + r"(?P<num>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?i:st|nd|rd|th)\b"),
        lambda m: _ordinal_words(int(m["num"].replace(",", ""))),
    ),
    (
        re.compile(_START + r"(?<![$€£¥₹−-])(?P<year>1[1-9]\d\d|20\d\d)(?!\w|[.,]\d)"),
        lambda m: _year_words(int(m["year"])),
    ),
    (re.compile(_SIGN + _START + _NUM), _cardinal),
    (re.compile(r"\s*&\s*"), " and "),
]


def _normalize_english(text: str) -> str:
    for pattern, replacement in _ENGLISH_RULES:
        text = pattern.sub(replacement, text)
    return text


_LANGUAGE_RULES: dict[str, Callable[[str], str]] = {"en": _normalize_english}


def normalize(text: str, language: str = "en") -> str:
    """Rewrite text as it should be read aloud: one line per block, sentence punctuation kept."""
    text = unicodedata.normalize("NFKC", _PICTOGRAPHS.sub("", text))
    text = _strip_markdown(text)
    lang = numbers.base_language(language)
    rules = _LANGUAGE_RULES.get(lang)
    if rules is not None:
        text = rules(text)
    elif numbers.supported(lang):  # other languages: numbers, money, units, dates in that language
        text = numbers.speak_numbers(text, lang)
    return _collapse(text)


# --- Sentences ---------------------------------------------------------------------------------------------

# Terminal punctuation with any closing quotes or brackets, before a space or the end of the line.
_TERMINAL = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)")
# Words whose full stop does not end a sentence even before a capital ("Dr. Smith").
_NO_BREAK_AFTER = frozenset({t.lower() for t in _TITLES} | {"vs", "e.g", "i.e", "a.k.a", "approx", "incl"})
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
_CLAUSE_END = re.compile(r"[,;:—–](?=\s)")


def _is_abbreviation(before: str) -> bool:
    words = before.split()
    token = words[-1].lstrip("\"'“‘([") if words else ""
    if len(token) == 1 and token.isupper() and token != "I":
        return True  # an initial: "J. R. R. Tolkien"
    return token.lower() in _NO_BREAK_AFTER or bool(_DOTTED_LETTERS.fullmatch(token.lower()))


def _sentences(line: str) -> list[str]:
    pieces, start = [], 0
    for m in _TERMINAL.finditer(line):
        rest = line[m.end() :].lstrip()
        # "Wait... what?" and '"Stop!" he said.' go on in lower case: the same sentence
        if rest and (rest[0].islower() or (m.group(0) == "." and _is_abbreviation(line[: m.start()]))):
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
    for m in _CLAUSE_END.finditer(sentence):
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
        if _speakable(chunk)
    ]
    if out and first_chars:
        out[:1] = _cut_early(out[0], first_chars)
    return out


def prepare(
    text: str, *, max_chars: int, normalize_text: bool = True, language: str = "en", cut_first: bool = True
) -> list[str]:
    """Check one request's text and turn it into the sentences to synthesize, in order; `cut_first` cuts the
    first sentence early (a stream's later pieces keep theirs whole)."""
    check_text(text, max_chars=max_chars)
    first_chars = FIRST_SENTENCE_CHARS if cut_first else None
    sentences = split_sentences(
        normalize(text, language) if normalize_text else text, first_chars=first_chars
    )
    if not sentences:
        raise EmptyText(
            "input is empty once emoji and symbols are removed: send the text to speak in `input`",
            param="input",
        )
    return sentences


def check_text(text: str, *, max_chars: int) -> None:
    """Refuse empty or overlong input (before the voice is looked up; `prepare` checks it too)."""
    if not text or not text.strip():
        raise EmptyText("input is empty: send the text to speak in `input`", param="input")
    if len(text) > max_chars:
        raise TextTooLong(
            f"input is {len(text)} characters, over the limit of {max_chars}: "
            "split the text into several requests, or raise text.max_chars",
            param="input",
        )


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
        for m in _TERMINAL.finditer(text, self._pos):
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
            if _is_abbreviation(before):
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
            breaks = [m.end() for m in _CLAUSE_END.finditer(window) if m.end() <= self.max_chars]
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
