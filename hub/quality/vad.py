"""Voice activity with silero-vad's ONNX model, run directly with onnxruntime (no torch).

`pip install --no-deps silero-vad` ships `silero_vad.onnx`; only the file is used, the package's Python
code (which imports torch and torchaudio) is never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from hub.errors import ModelMissing
from hub.quality.lazy import LazyModel

RATE = 16000
FRAME = 512
"""Samples per decision (32 ms at 16 kHz)."""
CONTEXT = 64
"""The model sees the last 64 samples of the previous frame before each frame."""


def model_path() -> Path:
    """The packaged silero_vad.onnx, located without importing the package."""
    spec = importlib.util.find_spec("silero_vad")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "data" / "silero_vad.onnx"
        if path.is_file():
            return path
    raise ModelMissing(
        "the voice activity model is not installed: run `pip install 'voxhub[quality]'` "
        "(it ships silero_vad.onnx)"
    )


class SileroVad(LazyModel):
    """Speech probability per 32 ms frame, and speech segments. Thread-safe; loads on first use."""

    def __init__(self, threads: int = 1) -> None:
        super().__init__()
        self.threads = threads

    def _load(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Frame by frame, the graph is tiny: more threads only add synchronisation.
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        return ort.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])

    def probabilities(self, samples16k: np.ndarray) -> np.ndarray:
        """One speech probability per FRAME samples of 16 kHz mono audio."""
        session = self.load()
        audio = np.asarray(samples16k, dtype=np.float32)
        frames = len(audio) // FRAME
        state = np.zeros((2, 1, 128), dtype=np.float32)
        context = np.zeros(CONTEXT, dtype=np.float32)
        rate = np.array(RATE, dtype=np.int64)
        probs = np.empty(frames, dtype=np.float32)
        for i in range(frames):
            frame = audio[i * FRAME : (i + 1) * FRAME]
            out, state = session.run(
                None, {"input": np.concatenate([context, frame])[None], "state": state, "sr": rate}
            )
            context = frame[-CONTEXT:]
            probs[i] = out[0, 0]
        return probs

    def segments(
        self,
        samples16k: np.ndarray,
        *,
        threshold: float = 0.5,
        min_speech_s: float = 0.25,
        min_silence_s: float = 0.3,
    ) -> list[tuple[float, float]]:
        """Speech as (start, end) seconds; pauses shorter than `min_silence_s` do not split a segment."""
        return speech_segments(
            self.probabilities(samples16k),
            threshold=threshold,
            min_speech_s=min_speech_s,
            min_silence_s=min_silence_s,
        )


def speech_segments(
    probs: np.ndarray, *, threshold: float = 0.5, min_speech_s: float = 0.25, min_silence_s: float = 0.3
) -> list[tuple[float, float]]:
    """Turn frame probabilities into (start, end) seconds, with hysteresis as silero's own helper does."""
    step = FRAME / RATE
    low = max(threshold - 0.15, 0.01)
    segments: list[tuple[float, float]] = []
    start: int | None = None
    silent_since: int | None = None
    for i, p in enumerate(probs):
        if start is None:
            if p >= threshold:
                start, silent_since = i, None
            continue
        if p < low:
            silent_since = i if silent_since is None else silent_since
            if (i - silent_since + 1) * step >= min_silence_s:
                segments.append((start * step, silent_since * step))
                start, silent_since = None, None
        else:
            silent_since = None
    if start is not None:
        end = silent_since if silent_since is not None else len(probs)
        segments.append((start * step, end * step))
    return [(a, b) for a, b in segments if b - a >= min_speech_s]
