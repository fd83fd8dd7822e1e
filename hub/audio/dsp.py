"""Sample helpers: s16le bytes to and from float samples, and band-limited resampling (libswresample)."""

from __future__ import annotations

import av
import numpy as np


def pcm16_to_float(b: bytes) -> np.ndarray:
    """s16le bytes -> float32 samples in [-1, 1)."""
    return np.frombuffer(b, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(x: np.ndarray) -> bytes:
    """Float samples -> s16le bytes, rounded and clipped (NaN becomes silence)."""
    # nan_to_num: a NaN from a misbehaving model must not become an arbitrary integer (or a warning).
    scaled = np.rint(np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling of mono float samples (libswresample, 64-tap windowed sinc)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"resample() takes mono samples, got shape {x.shape}")
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"bad sample rates: {src_rate} -> {dst_rate}")
    if src_rate == dst_rate or x.size == 0:
        return x.copy()
    # The longer filter and 0.95 cutoff push aliasing from about -60 dB (swr's default) below -90 dB.
    resampler = av.AudioResampler(
        format="flt", layout="mono", rate=dst_rate, options={"filter_size": "64", "cutoff": "0.95"}
    )
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x).reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = src_rate
    frames = resampler.resample(frame) + resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32, copy=False)
