"""How English says numbers: cardinals, ordinals, years, dates, clock times, money and measures.

The words come from num2words (hub/text/numbers.py), the American way: "101" -> "one hundred one". The `say_*`
functions turn one match of hub.text.english's rules into words.
"""

from __future__ import annotations

import re

from hub.text import numbers

# fmt: off
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# fmt: on
_LAST_WORD = re.compile(r"[a-z]+$")


def int_words(n: int) -> str:
    return numbers.cardinal(n, "en")  # num2words, the American way: "one hundred one"


def digit_words(digits: str) -> str:
    return numbers.digits(digits, "en")


def number_words(num: str, frac: str | None = None, sign: str | None = None) -> str:
    digits = num.replace(",", "")
    # "007" and numbers too long to say as one are read digit by digit
    words = digit_words(digits) if (digits[0] == "0" and len(digits) > 1) or len(digits) > 15 else None
    words = words or int_words(int(digits))
    if frac:
        words += " point " + digit_words(frac.lstrip("."))
    return f"minus {words}" if sign else words


def ordinal_words(n: int) -> str:
    return numbers.ordinal(n, "en")


def plural_words(words: str) -> str:
    def plural(m: re.Match[str]) -> str:
        word = m.group(0)
        return word[:-1] + "ies" if word.endswith("y") else word + "s"

    return _LAST_WORD.sub(plural, words)


def year_words(year: int) -> str:
    century, rest = divmod(year, 100)
    if 2000 <= year <= 2009:
        return int_words(year)  # "two thousand five", not "twenty oh five"
    if rest == 0:
        return f"{int_words(century)} hundred"
    return f"{int_words(century)} {'oh ' if rest < 10 else ''}{int_words(rest)}"


# After an abbreviation or "p.m." that swallowed a full stop: the next sentence seems to start here.
_SENTENCE_FOLLOWS = re.compile(r"\s*$|\s*\n|\s+[\"'“‘(]?[A-Z]")


def full_stop(m: re.Match[str]) -> str:
    return "." if m.group(0).endswith(".") and _SENTENCE_FOLLOWS.match(m.string, m.end()) else ""


def say_iso_date(m: re.Match[str]) -> str:
    month, day = _MONTHS[int(m["month"]) - 1], ordinal_words(int(m["day"]))
    return f"{month} {day}, {year_words(int(m['year']))}"


def _clock(hour: int, minute: int, o_clock: bool = False) -> str:
    if minute == 0:
        return f"{int_words(hour)} o'clock" if o_clock else int_words(hour)
    return f"{int_words(hour)} {'oh ' if minute < 10 else ''}{int_words(minute)}"


def say_time(m: re.Match[str]) -> str:
    if not m["min"] and not m["ap"]:
        return m.group(0)  # a bare number, not a time
    hour, minute = int(m["hour"]), int(m["min"] or 0)
    if m["ap"]:
        return f"{_clock(hour % 12 or 12, minute)} {m['ap'].lower()} m{full_stop(m)}"
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


def say_money(m: re.Match[str]) -> str:
    groups = m.groupdict()
    one, many, hundredth, hundredths = _CURRENCIES[groups["sym"]]
    minus = "minus " if groups["sign"] else ""
    scale = groups.get("scale") or _SCALE_ABBREVIATIONS.get(groups.get("abbr") or "")
    if scale:
        return f"{minus}{number_words(groups['num'], groups['frac'])} {scale} {many}"
    frac = groups["frac"]
    if frac and (len(frac) != 3 or not hundredth):  # "$3.5" is not dollars and cents
        return f"{minus}{number_words(groups['num'], frac)} {many}"
    whole, cents = int(groups["num"].replace(",", "")), int(frac[1:]) if frac else 0
    parts = []
    if whole or not cents:
        parts.append(f"{number_words(groups['num'])} {one if whole == 1 else many}")
    if cents:
        parts.append(f"{int_words(cents)} {hundredth if cents == 1 else hundredths}")
    return minus + " and ".join(parts)


_UNITS = numbers.UNITS["en"]
# longest first, so "km/h" wins over "km" and "°C" over "°"; "20° C" is "20°C"
UNIT_PATTERN = "|".join(re.escape(u).replace("°", "° ?") for u in sorted(_UNITS, key=len, reverse=True))


def say_unit(m: re.Match[str]) -> str:
    one, many = _UNITS[m["unit"].replace(" ", "")]
    return (
        number_words(m["num"], m["frac"], m["sign"])
        + " "
        + (one if m["num"] == "1" and not m["frac"] else many)
    )


def say_cardinal(m: re.Match[str]) -> str:
    words = number_words(m["num"], m["frac"], m["sign"])
    return words + " " if m.string[m.end() : m.end() + 1].isalpha() else words  # "5G" -> "five G"
