"""Text → sentences → phonemes → Piper phoneme ids.

Phonemes come from espeak-ng (shipped by `espeakng-loader`) through `phonemizer-fork`, with punctuation and
stress marks kept, as Piper voices were trained on. One espeak backend is built per espeak voice and cached.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

PAD, BOS, EOS = "_", "^", "$"

# phonemizer logs through this logger (not its own stderr handler). Its per-call warnings (e.g. about
# language switches) would repeat on every sentence, so only errors get through.
PHONEMIZER_LOG = logging.getLogger(__name__ + ".espeak")
PHONEMIZER_LOG.setLevel(logging.ERROR)

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’»)\]]))\s+")
_WORD = re.compile(r"\w")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; pieces without any letter or digit (e.g. `...`) are dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if _WORD.search(s)]


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


class EspeakPhonemizer:
    """Phonemizes with espeak-ng; one (slow to build) phonemizer backend per espeak voice, cached."""

    def __init__(self) -> None:
        self._backends: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._separator: Any = None

    def _backend(self, voice: str) -> Any:
        with self._lock:
            backend = self._backends.get(voice)
            if backend is None:
                import espeakng_loader
                from phonemizer.backend import EspeakBackend
                from phonemizer.backend.espeak.wrapper import EspeakWrapper
                from phonemizer.separator import Separator

                EspeakWrapper.set_library(espeakng_loader.get_library_path())
                EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
                self._separator = Separator(phone="", syllable="", word=" ")
                backend = EspeakBackend(
                    voice,
                    preserve_punctuation=True,
                    with_stress=True,
                    language_switch="remove-flags",
                    logger=PHONEMIZER_LOG,
                )
                self._backends[voice] = backend
            return backend

    def phonemize(self, sentences: Sequence[str], voice: str) -> list[str]:
        """IPA phonemes (with stress and punctuation) per sentence, in order, for espeak `voice`.

        Raises RuntimeError when espeak does not know `voice`.
        """
        # phonemizer skips empty lines, which would shift the others: phonemize only the non-empty ones
        todo = [i for i, s in enumerate(sentences) if s.strip()]
        result = [""] * len(sentences)
        if todo:
            backend = self._backend(voice)
            out = backend.phonemize([sentences[i] for i in todo], separator=self._separator, strip=True)
            for i, phonemes in zip(todo, out, strict=True):
                result[i] = phonemes.strip()
        return result
