"""Numbers, money, units, dates and times read aloud in the voice's language, through num2words.

The number words come from num2words (a kept library, pure Python) in the language of the voice, never from
tables of our own. English keeps its detailed rules in hub/text/english.py (years, phone numbers, 12-hour times,
"1st") and takes its words from `cardinal`/`ordinal` here, read the American way ("one hundred one").
Every other language num2words knows gets `speak_numbers`: decimals with that language's separator
("3,5" in German is "drei Komma fünf"; "1.000" is a thousand), percent and a small table of common units in
German and French, money with num2words' currency names, "DD.MM.YYYY" / "DD/MM/YYYY" and ISO dates and
24-hour times in German and French, French ordinals ("1er", "2e") and German years ("1999" ->
"neunzehnhundertneunundneunzig").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from num2words import CONVERTER_CLASSES, num2words

# Languages that write "3.5"; the rest (most of Europe) write "3,5" and group thousands with "." or a space.
DECIMAL_POINT = frozenset({"en", "ja", "ko", "zh", "he", "th", "hi", "ar", "fa", "te", "kn", "bn", "am"})
# Comma languages that group thousands with a (no-break) space, not a dot: "1 000".
SPACE_GROUPED = frozenset(
    {"fr", "ru", "pl", "cs", "sk", "sv", "fi", "nb", "no", "uk", "et", "lt", "lv", "hu", "bg"}
)

# Unit words per language: symbol -> (one, many). English is hub/text/english_words.py's table; German and French a few
# common ones. A unit missing for a language is left as written (the engine reads the symbol).
# fmt: off
UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "km/h": ("kilometer per hour", "kilometers per hour"), "mph": ("mile per hour", "miles per hour"),
        "m/s": ("meter per second", "meters per second"), "km": ("kilometer", "kilometers"),
        "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
        "mi": ("mile", "miles"), "ft": ("foot", "feet"), "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
        "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
        "oz": ("ounce", "ounces"), "l": ("liter", "liters"), "L": ("liter", "liters"),
        "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"), "h": ("hour", "hours"),
        "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "min": ("minute", "minutes"),
        "s": ("second", "seconds"), "sec": ("second", "seconds"), "ms": ("millisecond", "milliseconds"),
        "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
        "°": ("degree", "degrees"), "kWh": ("kilowatt hour", "kilowatt hours"), "kW": ("kilowatt", "kilowatts"),
        "W": ("watt", "watts"), "V": ("volt", "volts"), "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"),
        "MHz": ("megahertz", "megahertz"), "GHz": ("gigahertz", "gigahertz"), "KB": ("kilobyte", "kilobytes"),
        "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
    },
    "de": {
        "%": ("Prozent", "Prozent"), "°C": ("Grad Celsius", "Grad Celsius"), "°F": ("Grad Fahrenheit", "Grad Fahrenheit"),
        "°": ("Grad", "Grad"), "km/h": ("Kilometer pro Stunde", "Kilometer pro Stunde"), "km": ("Kilometer", "Kilometer"),
        "m": ("Meter", "Meter"), "cm": ("Zentimeter", "Zentimeter"), "mm": ("Millimeter", "Millimeter"),
        "kg": ("Kilogramm", "Kilogramm"), "g": ("Gramm", "Gramm"), "l": ("Liter", "Liter"), "ml": ("Milliliter", "Milliliter"),
        "h": ("Stunde", "Stunden"), "min": ("Minute", "Minuten"), "s": ("Sekunde", "Sekunden"),
        "kWh": ("Kilowattstunde", "Kilowattstunden"), "kW": ("Kilowatt", "Kilowatt"), "W": ("Watt", "Watt"),
    },
    "fr": {
        "%": ("pour cent", "pour cent"), "°C": ("degré Celsius", "degrés Celsius"),
        "°F": ("degré Fahrenheit", "degrés Fahrenheit"), "°": ("degré", "degrés"),
        "km/h": ("kilomètre par heure", "kilomètres par heure"), "km": ("kilomètre", "kilomètres"),
        "m": ("mètre", "mètres"), "cm": ("centimètre", "centimètres"), "mm": ("millimètre", "millimètres"),
        "kg": ("kilogramme", "kilogrammes"), "g": ("gramme", "grammes"), "l": ("litre", "litres"),
        "ml": ("millilitre", "millilitres"), "h": ("heure", "heures"), "min": ("minute", "minutes"),
        "s": ("seconde", "secondes"), "kWh": ("kilowattheure", "kilowattheures"), "kW": ("kilowatt", "kilowatts"),
        "W": ("watt", "watts"),
    },
}
MONTHS = {
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
}
# fmt: on
CURRENCIES = {"€": "EUR", "$": "USD", "£": "GBP", "EUR": "EUR", "USD": "USD", "GBP": "GBP"}
_CENTS_JOIN = {"de": "und", "fr": "et", "es": "con", "it": "e", "nl": "en", "pt": "e"}


def base_language(language: str) -> str:
    """ "de-DE", "de_AT", "DE" -> "de"; "" -> "en" (the hub's language when a voice declares none)."""
    return language.strip().lower().replace("_", "-").split("-")[0] or "en"


def supported(lang: str) -> bool:
    """num2words can say numbers in this (base) language."""
    return lang in CONVERTER_CLASSES


def cardinal(n: int, lang: str) -> str:
    """`n` in words; English the American way, without "and" or commas ("one hundred one")."""
    words = str(num2words(n, lang=lang))
    return _american(words) if lang == "en" else words


def ordinal(n: int, lang: str) -> str:
    """`n`th in words ("twenty-first", "vierundzwanzigste", "premier")."""
    words = str(num2words(n, lang=lang, to="ordinal"))
    return _american(words) if lang == "en" else words


def digits(text: str, lang: str) -> str:
    """Digit by digit: "007" -> "zero zero seven"."""
    return " ".join(cardinal(int(d), lang) for d in text)


def decimal(whole: str, frac: str, lang: str) -> str:
    """ "3" + "5" -> "three point five", "drei Komma fünf", "trois virgule cinq" (fraction digit by digit)."""
    point = "point" if lang == "en" else getattr(CONVERTER_CLASSES[lang], "pointword", None)
    if point is None:  # num2words knows how to say it, not what its separator word is called
        return str(num2words(float(f"{whole}.{frac}"), lang=lang))
    return f"{cardinal(int(whole), lang)} {point} {digits(frac, lang)}"


def _american(words: str) -> str:
    return re.sub(r",| and(?= )", "", words)


# --- other languages: the rules -----------------------------------------------------------------------------

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _number_pattern(lang: str) -> str:
    if lang in DECIMAL_POINT:
        return r"(?P<num>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(?P<frac>\d+))?"
    group = " " if lang in SPACE_GROUPED else r"\."
    # "1.000" is a thousand; "3.5" (a dot before fewer than 3 digits) is still read as a decimal
    return rf"(?P<num>\d{{1,3}}(?:{group}\d{{3}})+(?!\d)|\d+)(?:[,.](?P<frac>\d+))?"


def _value(m: re.Match[str], lang: str) -> str:
    num = re.sub(r"[ .,]", "", m["num"])
    words = decimal(num, m["frac"], lang) if m["frac"] else cardinal(int(num), lang)
    return f"{_minus(lang)} {words}" if m["sign"] else words


def _minus(lang: str) -> str:
    words = str(num2words(-1, lang=lang))
    return words[: words.rfind(" ")] if " " in words else "minus"


def _plural(m: re.Match[str], lang: str) -> bool:
    value = float(re.sub(r"[ .,]", "", m["num"]) + ("." + m["frac"] if m["frac"] else ""))
    return value >= 2 if lang == "fr" else value != 1  # French: singular below two ("1,5 degré")


# Units whose word is feminine, for "eine Stunde" / "une heure" (num2words says the bare number: "eins", "un").
_FEMININE = {"de": {"h", "min", "s", "kWh"}, "fr": {"h", "min", "s"}}
_ONE = {"de": ("ein", "eine"), "fr": ("un", "une")}


def _unit(lang: str) -> Callable[[re.Match[str]], str]:
    def say(m: re.Match[str]) -> str:
        unit = m["unit"].replace(" ", "")
        one, many = UNITS[lang][unit]
        value = _value(m, lang)
        if lang in _ONE and m["num"] == "1" and not m["frac"] and not m["sign"]:
            value = _ONE[lang][unit in _FEMININE[lang]]
        return f"{value} {many if _plural(m, lang) else one}"

    return say


def _money(lang: str) -> Callable[[re.Match[str]], str]:
    forms: dict[str, Any] = getattr(CONVERTER_CLASSES[lang], "CURRENCY_FORMS", {})

    def say(m: re.Match[str]) -> str:
        code = CURRENCIES[m["sym"] or m["sym2"]]
        if code not in forms:
            return m.group(0)
        (one, many), (cent, cents) = forms[code]
        whole = int(re.sub(r"[ .,]", "", m["num"]))
        frac = (m["frac"] or "")[:2].ljust(2, "0") if m["frac"] else ""
        head = "ein" if lang == "de" and whole == 1 else cardinal(whole, lang)  # "ein Euro", not "eins Euro"
        words = f"{head} {one if whole == 1 else many}"
        if frac and int(frac):
            words += f" {_CENTS_JOIN.get(lang, ',')} {cardinal(int(frac), lang)} {cent if int(frac) == 1 else cents}"
        return f"{_minus(lang)} {words}" if m["sign"] else words

    return say


def _clock(lang: str, hour: int, minute: int) -> str:
    if lang == "de":
        return f"{cardinal(hour, lang)} Uhr" + (f" {cardinal(minute, lang)}" if minute else "")
    if lang == "fr":
        head = "une heure" if hour == 1 else f"{cardinal(hour, lang)} heures"
        return head + (f" {cardinal(minute, lang)}" if minute else "")
    return f"{cardinal(hour, lang)} {cardinal(minute, lang)}" if minute else cardinal(hour, lang)


_DATIVE = re.compile(r"(?i)\b(?:am|vom|zum|bis|ab|seit)\s+$")
_ARTICLE = re.compile(r"(?i)\b(?:der|die|das)\s+$")


def _date(lang: str, m: re.Match[str]) -> str:
    day, month, year = int(m["day"]), int(m["month"]), m["year"]
    name = MONTHS[lang][month - 1]
    day_words = ordinal(day, lang) if lang == "de" or day == 1 else cardinal(day, lang)  # "premier", "deux"
    if lang == "de":  # "am vierundzwanzigsten Dezember", read alone "vierundzwanzigster Dezember"
        before = m.string[: m.start()]
        day_words += "n" if _DATIVE.search(before) else "" if _ARTICLE.search(before) else "r"
    return f"{day_words} {name}" + (f" {_year(lang, int(year))}" if year else "")


def _year(lang: str, year: int) -> str:
    return str(num2words(year, lang=lang, to="year")) if lang == "de" else cardinal(year, lang)


def _rules(lang: str) -> list[Rule]:
    num = _number_pattern(lang)
    sign = r"(?:(?<![\w.])(?P<sign>[-−]))?"
    start = r"(?<![\w.,])"
    rules: list[Rule] = []
    if lang in MONTHS:
        iso = r"(?<![\w-])(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])-(?P<day>0[1-9]|[12]\d|3[01])(?![\w-])"
        local_sep = r"\." if lang == "de" else "/"
        local = (rf"(?<![\w.,/])(?P<day>0?[1-9]|[12]\d|3[01]){local_sep}(?P<month>0?[1-9]|1[0-2])"
                 rf"(?:{local_sep}(?P<year>\d{{4}})(?!\d)|\.(?!\d))")  # fmt: skip
        for pattern in (iso, local):
            rules.append((re.compile(pattern), lambda m: _date(lang, m)))
        clock = r"(?<![\w.,:])(?P<hour>[01]?\d|2[0-3])(?::|\s?h\s?)(?P<min>[0-5]\d)(?![\d:])(?:\s?Uhr\b)?"
        if lang == "fr":
            clock = r"(?<![\w.,:])(?P<hour>[01]?\d|2[0-3])(?::|\s?h\s?)(?P<min>[0-5]\d)?(?![\d:])(?=\W|$)"
        rules.append((re.compile(clock), lambda m: _clock(lang, int(m["hour"]), int(m["min"] or 0))))
    money = _money(lang)
    rules.append((re.compile(sign + r"(?<!\w)(?P<sym>[$€£])\s?" + num + r"(?P<sym2>)"), money))
    rules.append((re.compile(sign + start + num + r"\s?(?P<sym2>[$€£]|(?:EUR|USD|GBP)\b)(?P<sym>)"), money))
    if lang in UNITS:
        units = "|".join(re.escape(u).replace("°", "° ?") for u in sorted(UNITS[lang], key=len, reverse=True))
        rules.append((re.compile(sign + start + num + r"\s?(?P<unit>" + units + r")(?![\w/])"), _unit(lang)))
    if lang == "fr":
        rules.append(
            (re.compile(start + r"(?P<n>\d+)(?:er|re|ère|e|ème)\b"), lambda m: ordinal(int(m["n"]), lang))
        )
    if lang == "de":
        rules.append(
            (
                re.compile(start + r"(?P<year>1[1-9]\d\d)(?![\w.,]\d|\d)"),
                lambda m: _year(lang, int(m["year"])),
            )
        )
    rules.append((re.compile(sign + start + num), lambda m: _value(m, lang)))
    return rules


_CACHE: dict[str, list[Rule]] = {}


def speak_numbers(text: str, language: str) -> str:
    """Numbers, money, units, dates and times in `text` as words of `language` (not English: hub/text/english.py)."""
    lang = base_language(language)
    if not supported(lang):
        return text
    rules = _CACHE.get(lang) or _CACHE.setdefault(lang, _rules(lang))
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text
