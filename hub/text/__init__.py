"""The text front end: turns what a client sends into sentences a TTS engine reads well.

`prepare` is the hub's entry point: it refuses empty or overlong input (hub.rules.check_text), `normalize`s
the text in the voice's language and `split_sentences` it (hub.text.sentences), so the first sentence can be
synthesized and sent while the rest waits. A stream of text pieces goes through `PrefixScanner`
(hub.text.stream) first.

Normalizing: the language-neutral cleanup (markdown, emoji, whitespace: hub.text.cleanup) for every language;
English has its own rules (hub.text.english, number words in hub.text.english_words). Every other language
num2words knows gets hub/text/numbers.py's `speak_numbers` (decimal comma or point, money, percent, units, dates
and times where tabled). A language with rules of its own goes into _LANGUAGE_RULES.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from hub.errors import EmptyText
from hub.rules import check_text
from hub.text import numbers
from hub.text.cleanup import PICTOGRAPHS, collapse, strip_markdown
from hub.text.english import normalize_english
from hub.text.sentences import FIRST_SENTENCE_CHARS, SENTENCE_MAX_CHARS, split_sentences
from hub.text.stream import PrefixScanner, complete_prefix

__all__ = [
    "SENTENCE_MAX_CHARS",
    "PrefixScanner",
    "complete_prefix",
    "normalize",
    "prepare",
    "split_sentences",
]

_LANGUAGE_RULES: dict[str, Callable[[str], str]] = {"en": normalize_english}


def normalize(text: str, language: str = "en") -> str:
    """Rewrite text as it should be read aloud: one line per block, sentence punctuation kept."""
    text = unicodedata.normalize("NFKC", PICTOGRAPHS.sub("", text))
    text = strip_markdown(text)
    lang = numbers.base_language(language)
    rules = _LANGUAGE_RULES.get(lang)
    if rules is not None:
        text = rules(text)
    elif numbers.supported(lang):  # other languages: numbers, money, units, dates in that language
        text = numbers.speak_numbers(text, lang)
    return collapse(text)


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
