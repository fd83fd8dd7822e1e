"""Speaker embeddings with resemblyzer's GE2E voice encoder (256-d, weights ship in its PyPI package).

Only the weights file `resemblyzer/pretrained.pt` is used: the 3-layer LSTM is rebuilt here in torch and
the mel spectrogram computed in numpy (identical to resemblyzer's librosa call), so neither librosa nor
webrtcvad is imported and the package's own broken dependency pins do not matter
(`pip install --no-deps resemblyzer`).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hub.errors import ModelMissing
from hub.quality.lazy import LazyModel

RATE = 16000
N_FFT = 400  # 25 ms window
HOP = 160  # 10 ms step
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s per partial utterance
PARTIALS_PER_S = 1.3
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0


def weights_path() -> Path:
    """resemblyzer's pretrained.pt, located without importing the package."""
    spec = importlib.util.find_spec("resemblyzer")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "pretrained.pt"
        if path.is_file():
            return path
    raise ModelMissing(
        "the speaker encoder is not installed: run `pip install 'voxhub[quality]'` and "
        "`pip install --no-deps resemblyzer` (it ships its weights)"
    )


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@cache
def mel_filters() -> np.ndarray:
    """The (N_MELS, N_FFT//2+1) Slaney-normalised filter bank librosa builds for these settings."""
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(RATE / 2)), N_MELS + 2))
    freqs = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(samples16k: np.ndarray) -> np.ndarray:
    """(frames, N_MELS) power mel spectrogram, as `librosa.feature.melspectrogram` computes it."""
    y = np.pad(np.asarray(samples16k, dtype=np.float32), N_FFT // 2)  # center=True, zero padding
    frames = 1 + (len(y) - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    power = np.abs(np.fft.rfft(y[index] * window, axis=1)) ** 2
    return (power @ mel_filters().T).astype(np.float32)


def normalize_volume(samples: np.ndarray) -> np.ndarray:
    """Raise (never lower) the level to -30 dBFS RMS, as the encoder was trained."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    if rms <= 1e-9:
        return samples
    gain_db = TARGET_DBFS - 20 * np.log10(rms)
    return samples * (10 ** (gain_db / 20)) if gain_db > 0 else samples


def partial_starts(n_samples: int) -> list[int]:
    """Start frames of the 1.6 s partial utterances (resemblyzer's `compute_partial_slices`)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = round((RATE / PARTIALS_PER_S) / HOP)
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings."""
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denominator) if denominator else 0.0


class SpeakerEncoder(LazyModel):
    """GE2E speaker embeddings of 16 kHz speech. Thread-safe; torch and the weights load on first use."""

    def _load(self) -> Any:
        return _build(weights_path())

    def partials(self, samples16k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of overlapping 1.6 s windows, (n, 256), and each window's start in seconds."""
        import torch

        model = self.load()
        wav = normalize_volume(np.asarray(samples16k, dtype=np.float32))
        starts = partial_starts(len(wav))
        needed = (starts[-1] + PARTIAL_FRAMES) * HOP
        if needed > len(wav):
            wav = np.pad(wav, (0, needed - len(wav)))
        mel = mel_spectrogram(wav)
        batch = np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])
        with torch.inference_mode():
            embeds = model(torch.from_numpy(batch)).numpy()
        return embeds, np.array(starts, dtype=np.float64) * HOP / RATE

    def embed(self, samples16k: np.ndarray) -> np.ndarray:
        """One L2-normalised 256-d embedding of an utterance (the mean of its partials)."""
        embeds, _ = self.partials(samples16k)
        return average(embeds)


def average(embeds: np.ndarray) -> np.ndarray:
    """The L2-normalised mean of embeddings."""
    mean = np.asarray(embeds, dtype=np.float64).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def _build(weights: Path) -> Any:
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = torch.nn.Linear(256, 256)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    # One thread: the batch is a handful of 1.6 s windows, and on a busy 2-core machine a second
    # OpenMP thread makes it 3-4x slower and erratic (measured). torch's pool is process-wide.
    torch.set_num_threads(1)
    model = Encoder()
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    # strict=False: the checkpoint also holds the GE2E loss's similarity scale, unused for inference.
    model.load_state_dict(checkpoint["model_state"], strict=False)
    model.eval()
    with torch.inference_mode():  # the first call pays one-off kernel set-up; not the first request
        model(torch.zeros(1, PARTIAL_FRAMES, N_MELS))
    return model
