"""The quality check's measurements and verdicts on synthetic signals (no models needed)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from hub import quality
from hub.quality import measures as clip_metrics
from hub.quality import speaker
from hub.quality.vad import FRAME, RATE, speech_segments
from hub.settings import QualitySettings

SR = 48000


def sine(freq: float, seconds: float, amplitude: float, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_loudness_matches_bs1770_reference_tone() -> None:
    # BS.1770: a 997 Hz sine at 0 dBFS peak reads -3.01 LKFS; the K-filter is ~0 dB at 1 kHz.
    assert clip_metrics.loudness_lufs(sine(997, 5, 1.0), SR) == pytest.approx(-3.01, abs=0.15)
    assert clip_metrics.loudness_lufs(sine(997, 5, 0.1), SR) == pytest.approx(-23.01, abs=0.15)
    # The same tone at another rate reads the same: the filter is designed per rate.
    assert clip_metrics.loudness_lufs(sine(997, 5, 0.1, 22050), 22050) == pytest.approx(-23.01, abs=0.2)
    assert clip_metrics.loudness_lufs(np.zeros(SR, np.float32), SR) == -math.inf


def test_clipping_counts_flat_tops_not_clean_peaks() -> None:
    clean = sine(220, 2, 0.99)
    assert clip_metrics.clipping_ratio(clean) == 0.0
    clipped = np.clip(sine(220, 2, 3.0), -1, 1)
    assert clip_metrics.clipping_ratio(clipped) > 0.5


def test_word_error_rate() -> None:
    assert clip_metrics.word_error_rate("The cat sat.", "the cat sat") == 0.0
    assert clip_metrics.word_error_rate("the cat sat on the mat", "the cat sat on a hat") == pytest.approx(
        2 / 6
    )
    assert clip_metrics.word_error_rate("", "") == 0.0


def test_speech_segments_bridge_short_pauses() -> None:
    step = FRAME / RATE
    probs = np.array([0.0] * 10 + [0.9] * 40 + [0.1] * 3 + [0.9] * 40 + [0.0] * 30, dtype=np.float32)
    segments = speech_segments(probs, min_silence_s=0.3)
    assert len(segments) == 1  # a 0.1 s pause does not split
    assert segments[0][0] == pytest.approx(10 * step) and segments[0][1] == pytest.approx(93 * step)
    assert speech_segments(np.full(100, 0.05, np.float32)) == []


def test_verdict_and_score_follow_the_thresholds() -> None:
    good = {"speech_s": 8.0, "silence_ratio": 0.1, "clipping_ratio": 0.0, "snr_db": 40.0,
            "bandwidth_hz": 11000.0, "loudness_lufs": -20.0, "dc_offset": 0.0}  # fmt: skip
    report = quality.judge(good, QualitySettings())
    assert (report.verdict, report.score, report.findings, report.exit_code) == ("accept", 1.0, (), 0)
    noisy = quality.judge({**good, "snr_db": 15.0}, QualitySettings())
    assert noisy.verdict == "warn" and noisy.exit_code == 1
    assert noisy.findings[0].code == "noise" and "quiet room" in noisy.findings[0].message
    # Thresholds are settings: a stricter min_snr_db turns the same clip into a rejection.
    strict = quality.judge({**good, "snr_db": 15.0}, QualitySettings(min_snr_db=30.0))
    assert strict.verdict == "reject" and strict.exit_code == 2
    many = {**good, "silence_ratio": 0.8, "snr_db": 15.0, "bandwidth_hz": 4000.0, "loudness_lufs": -50.0,
            "dc_offset": 0.1, "transcript_confidence": 0.1}  # fmt: skip
    piled = quality.judge(many, QualitySettings())
    assert piled.verdict == "reject" and piled.score < 0.4  # six warnings add up to a rejection
    payload = piled.to_dict()
    assert payload["verdict"] == "reject" and {f["code"] for f in payload["findings"]} >= {
        "silence",
        "bandwidth",
    }


def test_consistency_separates_two_groups() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=256), rng.normal(size=256)
    same = np.stack([a + 0.1 * rng.normal(size=256) for _ in range(8)])
    two = np.stack([v + 0.1 * rng.normal(size=256) for v in [a] * 4 + [b] * 4])
    assert clip_metrics.consistency(same)[0] > 0.9
    similarity, minority = clip_metrics.consistency(two)
    assert similarity < 0.3 and minority == 0.5


def _reference_mel(x: np.ndarray) -> np.ndarray:
    """librosa.feature.melspectrogram(y=x, sr=16000, n_fft=400, hop_length=160, n_mels=40), written out
    from its documented definition with scalar loops (not librosa, and not hub.quality.speaker's vectorized code):
    centred frames with zero padding, a periodic Hann window, |FFT|^2, Slaney mel triangles of unit area."""
    sr, n_fft, hop, n_mels = 16000, 400, 160, 40
    step = math.log(6.4) / 27  # Slaney: linear 0-1 kHz (200/3 Hz per mel), then logarithmic

    def hz_to_mel(f: float) -> float:
        return f / (200 / 3) if f < 1000 else 15 + math.log(f / 1000) / step

    def mel_to_hz(m: float) -> float:
        return m * (200 / 3) if m < 15 else 1000 * math.exp((m - 15) * step)

    top = hz_to_mel(sr / 2)
    edges = [mel_to_hz(top * i / (n_mels + 1)) for i in range(n_mels + 2)]
    bank = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            rise, fall = (f - lo) / (mid - lo), (hi - f) / (hi - mid)
            bank[m, k] = max(0.0, min(rise, fall)) * 2 / (hi - lo)
    window = np.array([0.5 - 0.5 * math.cos(2 * math.pi * n / n_fft) for n in range(n_fft)])
    padded = np.concatenate([np.zeros(n_fft // 2), x.astype(np.float64), np.zeros(n_fft // 2)])
    rows = []
    for start in range(0, len(padded) - n_fft + 1, hop):
        spectrum = np.fft.fft(padded[start : start + n_fft] * window)[: n_fft // 2 + 1]
        rows.append(bank @ (spectrum.real**2 + spectrum.imag**2))
    return np.array(rows)


def test_mel_spectrogram_matches_an_independent_reference() -> None:
    assert _reference_mel.__doc__  # the reference is librosa's definition: 1 kHz is 15 mel, 6.4 kHz 42
    rng = np.random.default_rng(0)
    x = (0.1 * rng.normal(size=16000 * 2)).astype(np.float32)
    ours = speaker.mel_spectrogram(x)
    theirs = _reference_mel(x)
    assert ours.shape == theirs.shape == (201, 40)
    assert np.max(np.abs(ours - theirs)) <= 1e-4 * np.max(theirs)
    # A pure tone lands in the band around its frequency.
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)
    band = int(np.argmax(speaker.mel_spectrogram(tone).mean(axis=0)))
    assert band == int(np.argmax(_reference_mel(tone).mean(axis=0)))


def test_importing_the_quality_modules_loads_no_model_stack() -> None:
    import hub.quality.clip  # noqa: F401

    assert (
        "torch" not in sys.modules or "hub.quality.speaker" in sys.modules
    )  # torch only via a loaded encoder
    assert "silero_vad" not in sys.modules  # the package (which imports torch) is never imported
