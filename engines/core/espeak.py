"""espeak-ng phonemes shared by engines (Piper, ZipVoice): IPA with stress marks and punctuation kept.

espeak-ng comes from `espeakng-loader`, driven through `phonemizer-fork`. One backend is built per espeak
voice (slow to build) and cached.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

# phonemizer logs through this logger (not its own stderr handler). Its per-call warnings (e.g. about
# language switches) would repeat on every sentence, so only errors get through.
PHONEMIZER_LOG = logging.getLogger(__name__ + ".espeak")
PHONEMIZER_LOG.setLevel(logging.ERROR)


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
