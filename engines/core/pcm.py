"""PCM helpers engines share: float audio in [-1, 1] to the s16le chunks the hub expects."""

from __future__ import annotations

import numpy as np

from engines.core.interface import AudioChunk


def to_s16(audio: np.ndarray) -> bytes:
    """Float samples (clipped to [-1, 1]) as little-endian 16-bit PCM."""
    return (
        np.rint(np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0) * 32767.0)
        .astype("<i2")
        .tobytes()
    )


def chunk(audio: np.ndarray, rate: int) -> AudioChunk:
    """Mono float samples as one s16le AudioChunk."""
    return AudioChunk(rate=rate, width=2, channels=1, audio=to_s16(audio))


def from_f32le(data: bytes) -> np.ndarray:
    """A reference clip as it crosses the pipe (mono float32 little-endian) as an array."""
    return np.frombuffer(data, dtype="<f4")
