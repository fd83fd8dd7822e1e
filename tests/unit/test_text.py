"""hub.text: what the engine is given to read, sentence by sentence."""

from __future__ import annotations

import pytest

from hub.errors import EmptyText, TextTooLong
from hub.text import normalize, prepare, split_sentences


def _cases(*pairs: tuple[str, str]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(("text", "expected"), pairs, ids=[text for text, _ in pairs])


# --- normalize -------------------------------------------------------------------------------------------


@_cases(
    ("I have 3 cats.", "I have three cats."),
    ("0 items", "zero items"),
    ("13 and 40 and 99", "thirteen and forty and ninety-nine"),
    ("101 dalmatians", "one hundred one dalmatians"),
    ("It has 1,234 pages", "It has one thousand two hundred thirty-four pages"),
    ("1,000,000 stars", "one million stars"),
    ("5000 people", "five thousand people"),
    ("Pi is 3.14.", "Pi is three point one four."),
    ("0.5 or 1,234.05", "zero point five or one thousand two hundred thirty-four point zero five"),
    ("It is -5 outside", "It is minus five outside"),
    ("(−2.5)", "(minus two point five)"),
    ("Agent 007", "Agent zero zero seven"),
    ("COVID-19 and 5G", "COVID-nineteen and five G"),
    ("Count 1,2,3", "Count one,two,three"),
    ("version 3.14.1", "version three dot fourteen dot one"),
    ("pages 5-10", "pages five to ten"),
    ("from 10–20 people", "from ten to twenty people"),
    ("call 555-1234", "call five five five, one two three four"),
    ("call (555) 123-4567", "call five five five, one two three, four five six seven"),
    ("#1 hit, No. 5", "number one hit, number five"),
)
def test_cardinals(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("1st place", "first place"),
    ("the 2nd, 3rd and 4th", "the second, third and fourth"),
    ("22nd", "twenty-second"),
    ("11th 12th 13th", "eleventh twelfth thirteenth"),
    ("21st century", "twenty-first century"),
    ("40th", "fortieth"),
    ("100th time", "one hundredth time"),
    ("1,000th", "one thousandth"),
)
def test_ordinals(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("In 1999 it rained.", "In nineteen ninety-nine it rained."),
    ("Since 2024,", "Since twenty twenty-four,"),
    ("2005", "two thousand five"),
    ("2000", "two thousand"),
    ("2010", "twenty ten"),
    ("1905", "nineteen oh five"),
    ("1900", "nineteen hundred"),
    ("1100", "eleven hundred"),
    ("1066", "one thousand sixty-six"),
    ("2100", "two thousand one hundred"),
    ("1,999 votes", "one thousand nine hundred ninety-nine votes"),
    ("2024.5", "two thousand twenty-four point five"),
    ("2000 km", "two thousand kilometers"),
    ("$1999", "one thousand nine hundred ninety-nine dollars"),
    ("1990-1999", "nineteen ninety to nineteen ninety-nine"),
    ("the 1990s", "the nineteen nineties"),
    ("the 1800s", "the eighteen hundreds"),
    ("in the 80s and '90s", "in the eighties and nineties"),
    ("in her mid-20s", "in her mid-twenties"),
    ("2024-05-01", "May first, twenty twenty-four"),
)
def test_years(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("at 7:30", "at seven thirty"),
    ("at 7:05 pm", "at seven oh five p m"),
    ("at 7:00", "at seven o'clock"),
    ("at 07:30", "at seven thirty"),
    ("at 10:30AM", "at ten thirty a m"),
    ("at 9pm", "at nine p m"),
    ("at 7 a.m. tomorrow", "at seven a m tomorrow"),
    ("at 7 p.m.", "at seven p m."),
    ("at 7 p.m. Then we ate.", "at seven p m. Then we ate."),
    ("at 7 p.m., then", "at seven p m, then"),
    ("at 14:00", "at two p m"),
    ("at 23:45", "at eleven forty-five p m"),
    ("at 00:00", "at midnight"),
    ("at 00:15", "at twelve fifteen a m"),
    ("at 12:00", "at twelve o'clock"),
    ("at 12 am", "at twelve a m"),
    ("open 9:00-17:30", "open nine o'clock to five thirty p m"),
    ("ratio 3:1", "ratio three:one"),
    ("7 amps", "seven amps"),
)
def test_times(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$3.50", "three dollars and fifty cents"),
    ("$1.01", "one dollar and one cent"),
    ("$0.99", "ninety-nine cents"),
    ("$5.00", "five dollars"),
    ("$3.5", "three point five dollars"),
    ("$1,234.56", "one thousand two hundred thirty-four dollars and fifty-six cents"),
    ("-$3", "minus three dollars"),
    ("$5 million", "five million dollars"),
    ("$2.5M", "two point five million dollars"),
    ("$10k", "ten thousand dollars"),
    ("€20", "twenty euros"),
    ("€1", "one euro"),
    ("20€ or 20 €", "twenty euros or twenty euros"),
    ("£1", "one pound"),
    ("£2.50", "two pounds and fifty pence"),
    ("£0.01", "one penny"),
    ("¥100", "one hundred yen"),
    ("It costs $5.", "It costs five dollars."),
)
def test_currency(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("50%", "fifty percent"),
    ("3.5 %", "three point five percent"),
    ("-2%", "minus two percent"),
    ("10-20%", "ten to twenty percent"),
    ("5 km", "five kilometers"),
    ("1 km", "one kilometer"),
    ("5km", "five kilometers"),
    ("1.5 km", "one point five kilometers"),
    ("20°C", "twenty degrees Celsius"),
    ("20 °C", "twenty degrees Celsius"),
    ("20° C", "twenty degrees Celsius"),
    ("-1°C", "minus one degree Celsius"),
    ("68°F", "sixty-eight degrees Fahrenheit"),
    ("turn 90°", "turn ninety degrees"),
    ("5℃", "five degrees Celsius"),
    ("3 kg", "three kilograms"),
    ("10 min", "ten minutes"),
    ("1 min", "one minute"),
    ("100 km/h", "one hundred kilometers per hour"),
    ("60 mph", "sixty miles per hour"),
    ("2 h 30 min", "two hours thirty minutes"),
    ("500 ml and 2 L", "five hundred milliliters and two liters"),
    ("6 ft", "six feet"),
    ("16 GB", "sixteen gigabytes"),
    ("5 more", "five more"),
)
def test_percent_and_units(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("Dr. Smith is in.", "Doctor Smith is in."),
    ("Dr Smith", "Doctor Smith"),
    ("I live on Elm Dr.", "I live on Elm Drive."),
    ("Ask the Dr. about it", "Ask the Doctor about it"),
    ("St. Louis", "Saint Louis"),
    ("at 5th St.", "at fifth Street."),
    ("on Main St., near", "on Main Street, near"),
    ("Mr. and Mrs. Brown", "Mister and Missus Brown"),
    ("Mr. Brown met Ms. Green", "Mister Brown met Miz Green"),
    ("Prof. X", "Professor X"),
    ("John Smith Jr. arrived", "John Smith Junior arrived"),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("E.g. apples.", "For example apples."),
    ("one, i.e. this", "one, that is this"),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("apples, etc. and more", "apples, et cetera and more"),
    ("apples, etc. Then pears", "apples, et cetera. Then pears"),
    ("cats vs. dogs", "cats versus dogs"),
    ("Acme Inc. makes it", "Acme Incorporated makes it"),
    ("approx. ten", "approximately ten"),
    ("Tom & Jerry", "Tom and Jerry"),
    ("R&D", "R and D"),
)
def test_abbreviations(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("See https://www.example.com/path", "See example dot com slash path"),
    ("Go to https://example.com.", "Go to example dot com."),
    ("http://example.com/a/b/?q=1#top", "example dot com slash a slash b"),
    ("Visit www.my-site.org/docs_v2 now", "Visit my dash site dot org slash docs underscore v2 now"),
    ("(see example.com)", "(see example dot com)"),
    ("Mail bob.smith@example.org", "Mail bob dot smith at example dot org"),
    ("Mail bob.smith@example.org.", "Mail bob dot smith at example dot org."),
    ("first_last+tag@mail.co.uk", "first underscore last plus tag at mail dot co dot uk"),
    ("<mailto:a@b.io>", "a at b dot io"),
    ("[the docs](https://example.com/docs)", "the docs"),
)
def test_urls_and_email(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("# Title", "Title"),
    ("## Step two ##", "Step two"),
    ("**bold** and __strong__", "bold and strong"),
    ("*italic* and _em_", "italic and em"),
    ("~~gone~~ here", "gone here"),
    ("run `make test` now", "run make test now"),
    ("a [link text](http://x.com) b", "a link text b"),
    ("![a cat](cat.png)", "a cat"),
    ("- one\n* two\n+ three\n1. four\n2) five", "one\ntwo\nthree\nfour\nfive"),
    ("> quoted\n> > nested", "quoted\nnested"),
    ("above\n\n---\n\nbelow", "above\nbelow"),
    ("```python\nprint(1)\n```", "print(one)"),
    ("2 * 3 * 4", "two * three * four"),
    ("snake_case_name", "snake_case_name"),
    ("#hashtag", "#hashtag"),
)
def test_markdown(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("Hi 👋 there!", "Hi there!"),
    ("Done ✅.", "Done."),
    ("👍🏽 ok", "ok"),
    ("family 👨‍👩‍👧 trip", "family trip"),
    ("flag 🇺🇸 here", "flag here"),
    ("I ❤️ it", "I it"),
    ("Acme™ and ©2024", "Acme and twenty twenty-four"),
    ("a → b ★", "a b"),
    ("🎉🎉", ""),
)
def test_pictographs(text: str, expected: str) -> None:
    assert normalize(text) == expected


@_cases(
    ("  lots   of\tspace  ", "lots of space"),
    ("one\r\ntwo\n\n\nthree", "one\ntwo\nthree"),
    ("Wait , what ?", "Wait, what?"),
    ("Hello; world: yes! Really? Ok.", "Hello; world: yes! Really? Ok."),
    ('It\'s a "quote" (aside) — and more...', 'It\'s a "quote" (aside) — and more...'),
    ("non\u00a0breaking", "non breaking"),
    ("!!!\nHi", "Hi"),
)
def test_punctuation_and_whitespace(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("language", ["zh", "el-GR"])
def test_languages_num2words_does_not_know_get_only_neutral_cleanup(language: str) -> None:
    # Changed with issue 16: German and French now read numbers in their language (test_text_languages.py).
    assert normalize("**Es kostet** 5 € 👍", language) == "Es kostet 5 €"


@pytest.mark.parametrize("language", ["en", "EN", "en-US", "en_GB"])
def test_english_variants(language: str) -> None:
    assert normalize("5 km", language) == "five kilometers"


# --- split_sentences ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        ("No punctuation", ["No punctuation"]),
        ("Dr. Smith is here. He left.", ["Dr. Smith is here.", "He left."]),
        ("Ask Mr. Brown and Mrs. Green. Done.", ["Ask Mr. Brown and Mrs. Green.", "Done."]),
        ("Fruit, e.g. Apples and i.e. Pears. Next.", ["Fruit, e.g. Apples and i.e. Pears.", "Next."]),
        ("It costs 3.5 dollars. Cheap.", ["It costs 3.5 dollars.", "Cheap."]),
        ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
        ("The U.S. Army came. Then.", ["The U.S. Army came.", "Then."]),
        ("Line one\nLine two. Three.\n\nPara", ["Line one", "Line two.", "Three.", "Para"]),
        ('He said "Stop!" Then he left.', ['He said "Stop!"', "Then he left."]),
        ('"Stop!" he said. Ok.', ['"Stop!" he said.', "Ok."]),
        ('She left. "Why?" he asked.', ["She left.", '"Why?" he asked.']),
        ("(An aside.) Then more.", ["(An aside.)", "Then more."]),
        ("Wait... what? Yes.", ["Wait... what?", "Yes."]),
        ("Wait... Then it came.", ["Wait...", "Then it came."]),
        ("Wait… Then it came.", ["Wait…", "Then it came."]),
        ("Really?! Yes!!", ["Really?!", "Yes!!"]),
        ("I counted to 3. Then stopped.", ["I counted to 3.", "Then stopped."]),
        ("Hi.   \n\n  ...  \n - \nBye.", ["Hi.", "Bye."]),
        ("Lots    of   space. Here", ["Lots of space.", "Here"]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    # sentence boundaries only: the early cut of the first sentence has tests of its own
    assert split_sentences(text, first_chars=None) == expected


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "... !!! ?", "—"])
def test_split_nothing_to_say(text: str) -> None:
    assert split_sentences(text) == []


def test_overlong_sentence_breaks_at_clauses() -> None:
    text = "This is a long clause, another clause that goes on; and a third clause: final words here."
    assert split_sentences(text, 40, first_chars=None) == [
        "This is a long clause,",
        "another clause that goes on;",
        "and a third clause: final words here.",
    ]


def test_overlong_clauses_are_packed_up_to_the_limit() -> None:
    text = "one, two, three, four, five, six, seven, eight."
    assert split_sentences(text, 20, first_chars=None) == [
        "one, two, three,",
        "four, five, six,",
        "seven, eight.",
    ]


def test_overlong_clause_breaks_between_words() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu."
    chunks = split_sentences(text, 20, first_chars=None)
    assert chunks == ["alpha beta gamma", "delta epsilon zeta", "eta theta iota kappa", "lambda mu."]


def test_overlong_never_splits_a_word() -> None:
    text = "a " * 10 + "supercalifragilistic end"
    chunks = split_sentences(text, 8, first_chars=None)
    assert chunks == ["a a a a", "a a a a", "a a", "supercalifragilistic", "end"]


@pytest.mark.parametrize("limit", [10, 25, 60, 400])
def test_split_keeps_every_word_and_the_limit(limit: int) -> None:
    words = [f"word{i}" + ("," if i % 7 == 0 else "") + ("." if i % 23 == 0 else "") for i in range(1, 120)]
    text = " ".join(words)
    chunks = split_sentences(text, limit)
    assert " ".join(chunks).split() == words
    assert all(0 < len(chunk) <= limit for chunk in chunks)


def test_long_first_sentence_is_cut_early() -> None:
    text = (
        "The first part of a long opening sentence, which goes on and on for a good while, and still "
        "continues further than you would like it to, really. Second sentence."
    )
    assert split_sentences(text, first_chars=90) == [
        "The first part of a long opening sentence,",
        "which goes on and on for a good while, and still continues further than you would like it to, really.",
        "Second sentence.",
    ]
    # short ones too: the first clause is what a voice assistant's listener waits for
    assert split_sentences("Sure, the lights are on. Anything else?") == [
        "Sure,",
        "the lights are on.",
        "Anything else?",
    ]
    assert split_sentences("Okay, done.") == ["Okay, done."]  # one word after the break: not worth a cut
    # only the first one: later sentences stay whole
    assert split_sentences("Hi. " + text, first_chars=90)[1] == text.removesuffix(" Second sentence.")
    assert split_sentences(text, first_chars=None)[0] == text.removesuffix(" Second sentence.")


def test_first_sentence_without_clause_break_is_cut_after_a_few_words_never_inside_a_number() -> None:
    text = "word " * 40 + "end."
    assert split_sentences(text, first_chars=50) == ["word " * 5 + "word", "word " * 34 + "end."]
    spoken = prepare("We counted exactly 1234567 visitors at the harbor museum over the years without a "
                     "single break in the count at all.", max_chars=4096)  # fmt: skip
    # six words would end inside the number: the cut waits until the number is whole
    assert (
        spoken[0]
        == "We counted exactly one million two hundred thirty-four thousand five hundred sixty-seven"
    )
    assert prepare("In 2024 the harbor museum counted more visitors than in all the years before it put "
                   "together.", max_chars=4096)[0] == "In twenty twenty-four the harbor museum"  # fmt: skip
    # never right after a word leaning on the next one ("and | the", "the | bird")
    assert prepare("The cat and the dog and the bird sat in the garden of the big old house by the river "
                   "all day long until the evening.", max_chars=4096)[0] == "The cat and the dog and the bird"  # fmt: skip
    later = "Then " + text
    assert prepare("Short first sentence here. " + later, max_chars=4096)[1:] == [later]  # later ones: whole
    assert split_sentences("too " * 30 + "long.", first_chars=30) == [
        "too too too too too too",
        "too " * 24 + "long.",
    ]
    assert split_sentences("too " * 30 + "long.", first_chars=20) == [
        "too " * 30 + "long."
    ]  # 6 words do not fit


def test_split_rejects_a_useless_limit() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        split_sentences("Hi.", 0)


# --- prepare -----------------------------------------------------------------------------------------------


def test_prepare_normalizes_and_splits() -> None:
    text = "# Hello\nDr. Smith paid $3.50 at 7:05 pm. It was 20°C! 👍"
    assert prepare(text, max_chars=4096) == [
        "Hello",
        "Doctor Smith paid three dollars and fifty cents at seven oh five p m.",
        "It was twenty degrees Celsius!",
    ]


def test_prepare_without_normalizing_only_splits() -> None:
    assert prepare("I paid $5. **Really**", max_chars=100, normalize_text=False) == [
        "I paid $5.",
        "**Really**",
    ]


def test_prepare_other_language() -> None:
    # Since issue 16 the voice's language reads the numbers: German words, not "5 €" left to the engine.
    assert prepare("Es kostet 5 €. Gut.", max_chars=100, language="de") == ["Es kostet fünf Euro.", "Gut."]


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"])
def test_prepare_refuses_empty(text: str) -> None:
    with pytest.raises(EmptyText) as caught:
        prepare(text, max_chars=100)
    assert caught.value.param == "input"
    assert caught.value.message == "input is empty: send the text to speak in `input`"
    assert caught.value.code == "empty_input"


@pytest.mark.parametrize("text", ["👍", "🎉 🎉\n✅", "...", "**", "- \n> "])
def test_prepare_refuses_nothing_to_speak(text: str) -> None:
    with pytest.raises(EmptyText) as caught:
        prepare(text, max_chars=100)
    assert caught.value.param == "input"
    assert "emoji" in caught.value.message
    assert "`input`" in caught.value.message


def test_prepare_refuses_nothing_to_speak_unnormalized() -> None:
    with pytest.raises(EmptyText):
        prepare("👍 !", max_chars=100, normalize_text=False)


def test_prepare_refuses_too_long() -> None:
    with pytest.raises(TextTooLong) as caught:
        prepare("a" * 101, max_chars=100)
    error = caught.value
    assert error.param == "input"
    assert error.status == 413
    assert "101" in error.message
    assert "100" in error.message
    assert "split" in error.message
    assert "text.max_chars" in error.message


def test_prepare_counts_the_raw_input() -> None:
    # "$5" grows to "five dollars" once normalized: only the raw length counts
    assert prepare("$5", max_chars=2) == ["five dollars"]
    with pytest.raises(TextTooLong):
        prepare("$5.", max_chars=2)
    assert prepare("a" * 100, max_chars=100) == ["a" * 100]
