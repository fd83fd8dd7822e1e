"""Text → phonemes → phoneme sentences → Piper phoneme ids.

Phonemes come from espeak-ng (shipped by `espeakng-loader`) through `phonemizer-fork`, with punctuation and
stress marks kept, as Piper voices were trained on. One espeak backend is built per espeak voice and cached.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence

from engines.core.espeak import PHONEMIZER_LOG, EspeakPhonemizer

__all__ = ["PHONEMIZER_LOG", "EspeakPhonemizer", "phoneme_ids", "split_sentences"]

log = logging.getLogger(__name__)

PAD, BOS, EOS = "_", "^", "$"

# A phoneme sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’»)\]]))\s+")
_WORD = re.compile(r"\w")


def split_sentences(phonemes: str) -> list[str]:
    """Cut a voice's phonemes into the sentences Piper's VITS model reads one at a time, as it was trained.

    The input is phonemizer output: espeak-ng's IPA, which keeps the text's punctuation, or a `text` voice's
    characters. This is not the text's sentence splitting (the hub does that, hub.text.sentences, and sends
    one sentence per request); it keeps a long phoneme string from reaching the model whole when the engine
    is called with several sentences. Pieces without any letter or digit (e.g. `...`) are dropped.
    """
    return [s.strip() for s in _SENTENCE_END.split(phonemes) if _WORD.search(s)]


def phoneme_ids(phonemes: str, id_map: Mapping[str, Sequence[int]]) -> tuple[list[int], list[str]]:
    """Piper ids for a phoneme string: `^ _` then every known phoneme's ids followed by `_`, then `$`.

    The string is NFD-normalized first and read one codepoint at a time. Returns the ids and the
    phonemes that were dropped because `id_map` does not know them.
    """
    pad = list(id_map[PAD])
    ids = [*id_map[BOS], *pad]
    missing: list[str] = []
    for phoneme in unicodedata.normalize("NFD", phonemes):
        mapped = id_map.get(phoneme)
        if mapped is None:
            missing.append(phoneme)
            continue
        ids.extend(mapped)
        ids.extend(pad)
    ids.extend(id_map[EOS])
    return ids, missing
