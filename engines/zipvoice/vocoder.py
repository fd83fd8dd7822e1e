"""Vocos (ONNX) mel → spectrum, and the inverse STFT in numpy.

The ONNX vocoder returns three (1, 513, F) tensors, in this order: the linear magnitude and the cosine
and sine of the phase. Output names differ between exports, so they are taken by position.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from engines.zipvoice.features import HOP, N_FFT, hann


@lru_cache(maxsize=8)
def _envelope(frames: int, n_fft: int, hop: int) -> np.ndarray:
    """Overlap-added squared window, with near-zero values replaced by 1 (the division is then a no-op)."""
    env = _overlap_add(np.repeat((hann(n_fft) ** 2)[None, :], frames, axis=0), hop)
    return np.where(env > 1e-11, env, 1.0)


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Sum (count, n_fft) frames placed `hop` apart."""
    count, n_fft = frames.shape
    out = np.zeros(n_fft + hop * (count - 1))
    if n_fft % hop == 0:
        # n_fft/hop shifted copies instead of one Python step per frame.
        for k in range(n_fft // hop):
            out[k * hop : k * hop + count * hop] += frames[:, k * hop : (k + 1) * hop].reshape(-1)
    else:
        for i in range(count):
            out[i * hop : i * hop + n_fft] += frames[i]
    return out


def istft(spectrum: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Inverse of a centred STFT with a periodic Hann window (= `torch.istft(center=True)`).

    `spectrum` is (n_fft // 2 + 1, F) complex; the result has `hop * (F - 1)` samples.
    """
    # One contiguous row per frame: the FFT and the overlap-add then read memory in order.
    frames = np.fft.irfft(np.ascontiguousarray(spectrum.T), n=n_fft, axis=-1) * hann(n_fft)
    count = spectrum.shape[1]
    audio = _overlap_add(frames, hop) / _envelope(count, n_fft, hop)
    return audio[n_fft // 2 : len(audio) - n_fft // 2].astype(np.float32)


class Vocoder:
    """Runs the Vocos ONNX session, then the inverse STFT."""

    def __init__(self, session: Any, n_fft: int = N_FFT, hop: int = HOP) -> None:
        self.session = session
        self.input = session.get_inputs()[0].name
        self.n_fft, self.hop = n_fft, hop

    def spectrum(self, mel: np.ndarray) -> np.ndarray:
        """(1, 100, F) natural-log mel → (513, F) complex spectrum."""
        mag, cos, sin = self.session.run(None, {self.input: np.ascontiguousarray(mel, dtype=np.float32)})[:3]
        spectrum = np.empty(mag.shape[1:], dtype=np.complex64)  # built in place: no complex128 temporaries
        np.multiply(mag[0], cos[0], out=spectrum.real)
        np.multiply(mag[0], sin[0], out=spectrum.imag)
        return spectrum

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        return istft(self.spectrum(mel), self.n_fft, self.hop)
