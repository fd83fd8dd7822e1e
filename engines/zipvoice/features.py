"""Prompt audio → ZipVoice features, in numpy: resampling, silence handling, RMS normalisation, log-mel.

The mel extractor is Vocos' (24 kHz, n_fft 1024, hop 256, 100 HTK mel bands with no normalisation,
magnitude not power, reflect-padded centred frames, `log(max(mel, 1e-7))`), with lhotse's frame count
`(samples + 128) // 256`. Features are scaled by `FEAT_SCALE` before they go into the model.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 24000
N_FFT = 1024
HOP = 256
N_MELS = 100
FEAT_SCALE = 0.1
TARGET_RMS = 0.1
SILENCE_DBFS = -50.0
STEP_MS = 10


@lru_cache(maxsize=4)
def hann(n: int) -> np.ndarray:
    """Periodic Hann window (as `torch.hann_window(n)`)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float64)


def resample(audio: np.ndarray, orig: int, new: int, width: int = 6, rolloff: float = 0.99) -> np.ndarray:
    """Band-limited resampling with a Hann-windowed sinc (torchaudio's default method and parameters)."""
    if orig == new:
        return np.asarray(audio, dtype=np.float32)
    g = math.gcd(orig, new)
    orig, new = orig // g, new // g
    base = min(orig, new) * rolloff
    half = math.ceil(width * orig / base)
    # One kernel per output phase, each over `2*half + orig` input samples.
    t = np.arange(0, -new, -1)[:, None] / new + np.arange(-half, half + orig)[None, :] / orig
    t = np.clip(t * base, -width, width)
    window = np.cos(t * np.pi / width / 2) ** 2
    t = t * np.pi
    safe = np.where(t == 0, 1.0, t)
    kernels = np.where(t == 0, 1.0, np.sin(safe) / safe) * window * (base / orig)
    x = np.pad(np.asarray(audio, dtype=np.float64), (half, half + orig))
    blocks = (len(x) - kernels.shape[1]) // orig + 1
    frames = np.lib.stride_tricks.sliding_window_view(x, kernels.shape[1])[::orig][:blocks]
    out = (frames @ kernels.T).reshape(-1)
    return out[: math.ceil(new * len(audio) / orig)].astype(np.float32)


@lru_cache(maxsize=4)
def mel_filterbank(n_freqs: int = N_FFT // 2 + 1, n_mels: int = N_MELS, rate: int = SAMPLE_RATE,
                   f_min: float = 0.0, f_max: float | None = None) -> np.ndarray:  # fmt: skip
    """Triangular HTK mel filters without normalisation, shape (n_freqs, n_mels)."""
    f_max = rate / 2 if f_max is None else f_max
    freqs = np.linspace(0, rate // 2, n_freqs)
    mels = np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2)
    edges = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    widths = np.diff(edges)
    slopes = edges[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return np.maximum(0.0, np.minimum(down, up))


def _hz_to_mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def stft_magnitude(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT| of centred, reflect-padded frames, shape (frames, n_fft // 2 + 1)."""
    x = np.asarray(audio, dtype=np.float64)
    pad = n_fft // 2
    if len(x) <= pad:  # reflect padding needs more samples than the pad
        x = np.pad(x, (0, pad + 1 - len(x)))
    x = np.pad(x, (pad, pad), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * hann(n_fft), axis=-1))


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Vocos log-mel features of 24 kHz audio, shape ((samples + 128) // 256, 100), float32."""
    mel = stft_magnitude(audio) @ mel_filterbank()
    frames = (len(audio) + HOP // 2) // HOP
    return np.log(np.maximum(mel[:frames], 1e-7)).astype(np.float32)


def rms_normalize(audio: np.ndarray, target: float = TARGET_RMS) -> tuple[np.ndarray, float]:
    """Raise quiet audio to `target` RMS; returns the audio and its original RMS."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    if 0 < rms < target:
        audio = audio * (target / rms)
    return np.asarray(audio, dtype=np.float32), rms


def _silent_steps(audio: np.ndarray, rate: int) -> np.ndarray:
    """For each 10 ms step: is it below -50 dBFS?"""
    step = rate * STEP_MS // 1000
    n = len(audio) // step
    if n == 0:
        return np.zeros(0, dtype=bool)
    power = np.mean(np.square(audio[: n * step].reshape(n, step), dtype=np.float64), axis=1)
    return power < 10 ** (SILENCE_DBFS / 10)


def edge_bounds(audio: np.ndarray, rate: int, keep_ms: int = 100) -> tuple[int, int]:
    """[first, last) sample range with leading and trailing silence cut down to `keep_ms`."""
    step = rate * STEP_MS // 1000
    silent = _silent_steps(audio, rate)
    loud = np.flatnonzero(~silent)
    if len(loud) == 0:
        return 0, 0
    keep = keep_ms // STEP_MS
    first = max(0, loud[0] - keep) * step
    # The last partial step is too short to judge: it counts as sound.
    last = min(len(audio), (loud[-1] + 1 + keep) * step) if loud[-1] + 1 < len(silent) else len(audio)
    return int(first), int(last)


def remove_silence(audio: np.ndarray, rate: int, *, keep_edge_ms: int = 100, max_gap_ms: int = 2000,
                   trail_ms: int = 0) -> np.ndarray:  # fmt: skip
    """Trim edge silence to `keep_edge_ms`, shorten inner silences to `max_gap_ms`, then pad `trail_ms`.

    Upstream splits on silences of 1 s or more, keeping 1 s on each side (pydub, -50 dBFS): inner gaps
    longer than 2 s become 2 s. It then trims both edges to 100 ms and appends silence.
    """
    first, last = edge_bounds(audio, rate, keep_edge_ms)
    step = rate * STEP_MS // 1000
    pieces = _shorten_gaps(audio, _silent_steps(audio, rate), step, first, last, max_gap_ms // STEP_MS)
    kept = np.concatenate(pieces) if first < last else audio[:0]
    if trail_ms:
        kept = np.concatenate([kept, np.zeros(rate * trail_ms // 1000, dtype=kept.dtype)])
    return kept


def _shorten_gaps(audio: np.ndarray, silent: np.ndarray, step: int, first: int, last: int,
                  max_gap: int) -> list[np.ndarray]:  # fmt: skip
    pieces: list[np.ndarray] = []
    cursor = first
    # Runs of silent steps strictly inside [first, last) that are longer than max_gap.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        s, e = start * step, end * step
        if s <= first or e >= last or end - start <= max_gap:
            continue
        half = max_gap // 2 * step
        pieces.append(audio[cursor : s + half])
        cursor = e - half
    pieces.append(audio[cursor:last])
    return pieces


def prompt_features(audio: np.ndarray, rate: int) -> tuple[np.ndarray, float, float]:
    """Reference clip → (scaled features (P, 100), original RMS, seconds of prompt audio used)."""
    x = resample(np.asarray(audio, dtype=np.float32), rate, SAMPLE_RATE)
    x = remove_silence(x, SAMPLE_RATE, trail_ms=200)  # the trailing 200 ms keeps the prompt from leaking
    x, rms = rms_normalize(x)
    return log_mel(x) * FEAT_SCALE, rms, len(x) / SAMPLE_RATE
