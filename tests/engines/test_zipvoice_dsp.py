"""ZipVoice's numpy signal processing against independent references (plain DFT sums, textbook formulas)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.zipvoice import features as feats
from engines.zipvoice.vocoder import istft

RATE = 24000


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonics with a wobbling pitch and an on/off envelope, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (0.2 * voiced * envelope + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def reference_log_mel(x: np.ndarray) -> np.ndarray:
    """torchaudio's MelSpectrogram (power 1, HTK, no norm, centred, reflect) + log clamp, written out.

    The DFT is an explicit cos/sin sum per bin and the filters are piecewise-linear interpolation between
    the mel points: no code shared with engines/zipvoice/features.py.
    """
    n_fft, hop = 1024, 256
    padded = np.concatenate([x[1:513][::-1], x, x[-513:-1][::-1]]).astype(np.float64)
    window = np.array([np.sin(np.pi * i / n_fft) ** 2 for i in range(n_fft)])  # = periodic Hann
    count = 1 + len(x) // hop
    frames = np.stack([padded[i * hop : i * hop + n_fft] * window for i in range(count)])
    k = np.arange(513)[:, None] * np.arange(n_fft)[None, :]
    real = frames @ np.cos(2 * np.pi * k / n_fft).T
    imag = frames @ np.sin(2 * np.pi * k / n_fft).T
    magnitude = np.hypot(real, imag)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    points = 700 * (10 ** (np.linspace(mel(0), mel(12000), 102) / 2595) - 1)
    freqs = np.linspace(0, 12000, 513)
    bank = np.stack(
        [np.interp(freqs, points[m : m + 3], [0, 1, 0], left=0, right=0) for m in range(100)], axis=1
    )
    out = np.log(np.maximum(magnitude @ bank, 1e-7))
    return out[: (len(x) + 128) // 256]


@pytest.mark.parametrize("samples", [24000, 24000 + 100, 24000 + 200, 60001])
def test_log_mel_matches_an_independent_reference(samples: int) -> None:
    x = speechlike(samples / RATE)[:samples]
    ours = feats.log_mel(x)
    ref = reference_log_mel(x)
    assert ours.shape == ref.shape == ((samples + 128) // 256, 100)
    loud = ref > np.log(1e-4)  # where the log is well conditioned
    assert np.max(np.abs(ours[loud] - ref[loud])) < 1e-4
    assert np.max(np.abs(np.exp(ours) - np.exp(ref))) < 1e-4


def test_mel_filters_follow_the_htk_scale() -> None:
    bank = feats.mel_filterbank()
    assert bank.shape == (513, 100)
    # 1000 Hz is ~1000 mel on the HTK scale; filter centres are equally spaced in mel.
    assert abs(2595 * np.log10(1 + 1000 / 700) - 1000) < 0.1
    freqs = np.linspace(0, 12000, 513)
    tone = np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE).astype(np.float32)
    peak = int(np.argmax(feats.log_mel(tone)[20]))
    centre_mels = np.linspace(0, 2595 * np.log10(1 + 12000 / 700), 102)[1:-1]
    assert abs(centre_mels[peak] - 1000) < 30
    assert np.all(bank >= 0) and np.all(bank.max(axis=0) <= 1.0 + 1e-9) and freqs[np.argmax(bank[:, 0])] < 100


def reference_istft(spec: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """torch.istft(center=True) by the book: explicit inverse DFT per frame, window, overlap-add, divide."""
    count = spec.shape[1]
    n = np.arange(n_fft)
    window = np.sin(np.pi * n / n_fft) ** 2
    full = np.concatenate([spec, np.conj(spec[-2:0:-1])], axis=0)  # Hermitian completion to n_fft bins
    basis = np.exp(2j * np.pi * np.outer(n, np.arange(n_fft)) / n_fft) / n_fft
    out = np.zeros(n_fft + hop * (count - 1))
    env = np.zeros_like(out)
    for f in range(count):
        frame = (basis @ full[:, f]).real * window
        out[f * hop : f * hop + n_fft] += frame
        env[f * hop : f * hop + n_fft] += window**2
    return (out / np.where(env > 1e-11, env, 1.0))[n_fft // 2 : -(n_fft // 2)]


def test_istft_matches_an_independent_reference() -> None:
    rng = np.random.default_rng(3)
    frames = 40
    spec = rng.standard_normal((513, frames)) + 1j * rng.standard_normal((513, frames))
    spec[0].imag = 0  # DC and Nyquist of a real signal are real
    spec[-1].imag = 0
    ours = istft(spec)
    ref = reference_istft(spec)
    assert len(ours) == 256 * (frames - 1) == len(ref)
    assert np.max(np.abs(ours - ref)) < 1e-5 * np.max(np.abs(ref))


def test_istft_inverts_the_centred_stft() -> None:
    x = speechlike(1.0)
    pad = np.pad(x.astype(np.float64), 512, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(pad, 1024)[::256] * feats.hann(1024)
    spec = np.fft.rfft(frames, axis=-1).T
    y = istft(spec)
    assert len(y) == 256 * (spec.shape[1] - 1)
    assert np.max(np.abs(y - x[: len(y)])) < 1e-5


def test_resampling_keeps_a_tone_and_the_length() -> None:
    for orig in (16000, 22050, 44100, 48000):
        t = np.arange(orig) / orig
        y = feats.resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), orig, RATE)
        assert len(y) == RATE
        expect = np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)
        inner = slice(200, -200)  # away from the zero padding at the ends
        assert np.max(np.abs(y[inner] - expect[inner])) < 2e-3, orig
    # content above the new Nyquist frequency is removed, not folded back
    t = np.arange(48000) / 48000
    alias = feats.resample(np.sin(2 * np.pi * 15000 * t).astype(np.float32), 48000, RATE)
    assert np.sqrt(np.mean(alias[200:-200] ** 2)) < 0.01


def test_rms_normalisation_raises_quiet_audio_only() -> None:
    quiet = 0.01 * speechlike(1.0)
    raised, rms = feats.rms_normalize(quiet)
    assert abs(rms - np.sqrt(np.mean(quiet.astype(np.float64) ** 2))) < 1e-9
    assert abs(np.sqrt(np.mean(raised.astype(np.float64) ** 2)) - 0.1) < 1e-4
    loud = 2.0 * speechlike(1.0)
    same, _ = feats.rms_normalize(loud)
    assert np.array_equal(same, loud)


def test_silence_is_trimmed_at_the_edges_and_shortened_inside() -> None:
    speech = speechlike(1.0)
    silence = lambda s: np.zeros(int(s * RATE), np.float32)  # noqa: E731
    clip = np.concatenate([silence(0.8), speech, silence(3.0), speech, silence(1.2)])
    out = feats.remove_silence(clip, RATE, trail_ms=200)
    # 0.1 s + speech + 2 s (longest inner gap kept) + speech + 0.1 s, then 200 ms of padding
    expected = 0.1 + 1.0 + 2.0 + 1.0 + 0.1 + 0.2
    assert abs(len(out) / RATE - expected) < 0.03
    assert np.all(out[-int(0.2 * RATE) :] == 0)
    short_gap = np.concatenate([speech, silence(1.5), speech])
    assert len(feats.remove_silence(short_gap, RATE)) == len(short_gap)


def test_prompt_features_are_scaled_and_sized() -> None:
    clip = np.concatenate([np.zeros(RATE // 2, np.float32), speechlike(2.0), np.zeros(RATE, np.float32)])
    features, rms, seconds = feats.prompt_features(clip, RATE)
    assert abs(seconds - (0.1 + 2.0 + 0.1 + 0.2)) < 0.03
    assert features.shape == ((round(seconds * RATE) + 128) // 256, 100)
    assert features.max() < 0.5 and features.min() >= np.log(1e-7) * 0.1 - 1e-6  # ×0.1 of natural-log mel
    assert rms > 0.05
