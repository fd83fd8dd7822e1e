"""Enrollment analysis on real voices (Piper, espeak-ng) and degraded copies, with the real models."""

from __future__ import annotations

import numpy as np
import pytest

from hub.audio import resample
from hub.quality import measures as clip_metrics
from hub.quality.clip import analyze
from hub.quality.speaker import cosine
from tests.quality.conftest import RATE, TEXT, wav_bytes

EXPECTED = {  # degradation -> (finding, severity, words the advice must contain)
    "clipped": ("clipping", "reject", "further from the microphone"),
    "noisy": ("noise", "reject", "quiet room"),
    "silent": ("no_speech", "reject", "Record yourself"),
    "too_short": ("too_short", "reject", "5-10 seconds"),
    "narrowband": ("bandwidth", "warn", "24 kHz"),
}


def test_clean_clip_is_accepted_with_the_spoken_text(toolkit: object, piper_clip: np.ndarray) -> None:
    result = analyze(toolkit, wav_bytes(piper_clip))  # type: ignore[arg-type]
    report = result.report
    assert report.verdict == "accept", report.summary()
    assert report.finding("multiple_speakers") is None
    assert clip_metrics.word_error_rate(TEXT, result.transcript) < 0.15, result.transcript
    assert result.language == "en" and report.transcript == result.transcript
    assert 3.0 <= len(result.prompt) / 24000 <= 12.0
    assert result.embedding is not None and result.embedding.shape == (256,)
    assert set(result.timings) == {"decode", "vad", "asr", "embedding", "check"}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_degradation_gets_its_finding_with_advice(
    toolkit: object, piper_clip: np.ndarray, degrade: dict, kind: str
) -> None:
    code, severity, advice = EXPECTED[kind]
    report = analyze(toolkit, wav_bytes(degrade[kind](piper_clip))).report  # type: ignore[arg-type]
    finding = report.finding(code)
    assert finding is not None, report.summary()
    assert finding.severity == severity and advice in finding.message
    assert report.verdict == ("reject" if severity == "reject" else "warn")


def test_two_speakers_in_one_clip_are_found(
    toolkit: object, piper_clip: np.ndarray, espeak_clips: dict[str, np.ndarray]
) -> None:
    two = np.concatenate([piper_clip[: 5 * RATE], espeak_clips["en-us+f2"][: 5 * RATE]])
    report = analyze(toolkit, wav_bytes(two)).report  # type: ignore[arg-type]
    finding = report.finding("multiple_speakers")
    assert finding is not None and finding.severity == "reject", report.summary()
    assert "more than one voice" in finding.message  # each voice alone passes: see the tests above


def test_espeak_voices_are_not_rejected(toolkit: object, espeak_clips: dict[str, np.ndarray]) -> None:
    for voice, clip in espeak_clips.items():
        report = analyze(toolkit, wav_bytes(clip)).report  # type: ignore[arg-type]
        assert report.verdict != "reject", (voice, report.summary())
        assert report.finding("multiple_speakers") is None
        assert clip_metrics.word_error_rate(TEXT, report.transcript) < 0.6, (voice, report.transcript)


def test_same_speaker_ranks_above_different_speakers(
    toolkit: object, piper_clip: np.ndarray, espeak_clips: dict[str, np.ndarray]
) -> None:
    encoder = toolkit.speaker  # type: ignore[attr-defined]

    def halves(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x16 = resample(clip, RATE, 16000)
        middle = len(x16) // 2
        return encoder.embed(x16[:middle]), encoder.embed(x16[middle:])

    voices = {"joe": piper_clip, **espeak_clips}
    parts = {name: halves(clip) for name, clip in voices.items()}
    for name, (first, second) in parts.items():
        same = cosine(first, second)
        others = [cosine(first, parts[o][1]) for o in parts if o != name]
        assert same > max(others), (name, same, others)
        assert same >= 0.85


def test_long_clip_prompt_is_a_clean_stretch_between_pauses(
    toolkit: object, piper_clip: np.ndarray, espeak_clips: dict[str, np.ndarray]
) -> None:
    gap = np.zeros(RATE, np.float32)
    long_clip = np.concatenate([gap, piper_clip, gap, piper_clip, gap, np.clip(piper_clip * 8, -1, 1), gap])
    result = analyze(toolkit, wav_bytes(long_clip), transcript=TEXT)  # type: ignore[arg-type]
    start, end = result.stretch
    assert 3.0 <= end - start <= 12.0 + 1e-6
    assert end <= 2 + 2 * len(piper_clip) / RATE + 0.5  # the clipped third copy is avoided
    assert result.transcript == TEXT  # a given transcript is kept
    assert float(np.abs(result.prompt).max()) < 0.99


def test_a_wrong_transcript_is_flagged(toolkit: object, piper_clip: np.ndarray) -> None:
    report = analyze(toolkit, wav_bytes(piper_clip), transcript="Completely different words here.").report  # type: ignore[arg-type]
    finding = report.finding("transcript_mismatch")
    assert finding is not None and "word for word" in finding.message
