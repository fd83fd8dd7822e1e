"""Enrollment and checks: decode, find the speech, pick the prompt, transcribe, embed, judge.

    tools = Toolkit(settings)                 # one per Hub; every model loads on first use
    analysis = analyze(tools, clip_bytes)     # CPU-bound: run it in a thread
    analysis.report.verdict                   # accept | warn | reject

`analyze` never writes anything; the Hub stores an accepted analysis in one library transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub import quality
from hub.audio import decode_audio, resample
from hub.errors import InvalidRequest, ModelMissing
from hub.quality import measures as clip_metrics
from hub.quality.asr import Backend, Transcript, load_backend
from hub.quality.speaker import SpeakerEncoder, average, cosine
from hub.quality.vad import SileroVad
from hub.settings import Settings

PROMPT_RATE = 24000
"""Reference clips are stored at this rate."""
ANALYSIS_RATE = 16000
LEAD_S, TAIL_S = 0.1, 0.2
"""Silence kept before the first and after the last word when trimming."""


class ClipRejected(InvalidRequest):
    """The quality check rejected the clip; nothing was stored. `extra["quality"]` holds the report."""

    status = 422
    code = "clip_rejected"


class Toolkit:
    """The models behind enrollment and checks, created once per Hub and loaded lazily."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.vad = SileroVad()
        self.speaker = SpeakerEncoder()
        asr = settings.asr
        models_dir = settings.data_dir / "models"
        self.asr: Backend = load_backend(
            asr.backend, asr.model, models_dir, device=asr.device, threads=asr.threads
        )


@dataclass
class Analysis:
    """Everything learnt about one clip."""

    report: quality.QualityReport
    prompt: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    """The chosen 3-12 s stretch, mono float32 at PROMPT_RATE (empty without speech)."""
    transcript: str = ""
    language: str = ""
    embedding: np.ndarray | None = field(default=None, repr=False)
    duration_s: float = 0.0
    stretch: tuple[float, float] = (0.0, 0.0)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: decode, vad, asr, embedding, check."""


def best_stretch(
    segments: list[tuple[float, float]], x16: np.ndarray, min_s: float, max_s: float, clipped: np.ndarray
) -> tuple[float, float]:
    """The window of at most `max_s` seconds holding the most clean speech, cut at pauses where possible."""
    duration = len(x16) / ANALYSIS_RATE
    start = max(0.0, segments[0][0] - LEAD_S)
    end = min(duration, segments[-1][1] + TAIL_S)
    if end - start <= max_s:
        return start, end
    best: tuple[float, tuple[float, float]] | None = None
    for i, (seg_start, _) in enumerate(segments):
        a = max(0.0, seg_start - LEAD_S)
        b = a
        for _, seg_end in segments[i:]:
            if seg_end + TAIL_S - a > max_s:
                break
            b = min(duration, seg_end + TAIL_S)
        if b - a < min_s:  # no pause in reach: cut inside the speech, at its quietest moment
            b = _quietest(x16, a + max_s - 1.5, min(a + max_s, duration))
        speech = sum(max(0.0, min(e, b) - max(s, a)) for s, e in segments)
        lo, hi = int(a * ANALYSIS_RATE), int(b * ANALYSIS_RATE)
        score = speech - 20.0 * float(clipped[lo:hi].mean() if hi > lo else 0.0) * (b - a)
        if best is None or score > best[0]:
            best = (score, (a, b))
    assert best is not None
    return best[1]


def _quietest(x16: np.ndarray, lo: float, hi: float) -> float:
    frame = int(0.02 * ANALYSIS_RATE)
    a, b = int(max(lo, 0) * ANALYSIS_RATE), int(hi * ANALYSIS_RATE)
    if b - a < 2 * frame:
        return hi
    n = (b - a) // frame
    powers = np.mean(np.square(x16[a : a + n * frame].reshape(n, frame)), axis=1)
    return (a + int(np.argmin(powers)) * frame + frame / 2) / ANALYSIS_RATE


def _clip_mask(samples: np.ndarray, rate: int, n16: int) -> np.ndarray:
    """Clipped samples found at the native rate (resampling rounds off flat tops), on the 16 kHz grid."""
    native = clip_metrics.clipped_samples(samples)
    index = np.minimum((np.arange(n16) * (rate / ANALYSIS_RATE)).astype(np.int64), max(len(native) - 1, 0))
    return native[index] if len(native) else np.zeros(n16, dtype=bool)


def analyze(
    tools: Toolkit,
    data: bytes,
    *,
    transcript: str = "",
    language: str = "",
    text: str | None = None,
    against: np.ndarray | None = None,
    existing: Iterable[tuple[str, np.ndarray]] = (),
) -> Analysis:
    """Decode and judge a clip. `text`: what it should say (ASR round trip); `against`: an embedding to
    compare with; `existing`: (name, embedding) of enrolled voices, for the near-duplicate warning."""
    settings = tools.settings
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    samples, rate = decode_audio(data, limits=settings.enroll.decode_limits)
    x16 = resample(samples, rate, ANALYSIS_RATE) if rate != ANALYSIS_RATE else samples
    lap("decode")
    segments = tools.vad.segments(x16)
    lap("vad")
    metrics: dict[str, float | None] = dict(clip_metrics.measure(samples, rate, segments))
    duration = len(samples) / rate
    if not segments:
        lap("check")
        return Analysis(quality.judge(metrics, settings.quality), duration_s=duration, timings=timings)

    limits = settings.enroll
    a, b = best_stretch(
        segments, x16, limits.min_prompt_s, limits.max_prompt_s, _clip_mask(samples, rate, len(x16))
    )
    lap("check")

    # The round trip hears everything that was said; otherwise the prompt stretch is enough.
    if text is not None:
        lo, hi = max(0.0, segments[0][0] - LEAD_S), segments[-1][1] + TAIL_S
    else:
        lo, hi = a, b
    heard: Transcript | None = None
    try:
        heard = tools.asr.transcribe(x16[int(lo * ANALYSIS_RATE) : int(hi * ANALYSIS_RATE)], ANALYSIS_RATE,
                                     language=language or None)  # fmt: skip
    except ModelMissing:
        if not transcript and text is None:
            raise  # nothing else can tell what is said
    lap("asr")

    # Speaker windows over all the speech: their spread is the consistency check, the ones inside the
    # prompt stretch average to the voice's embedding.
    first, last = max(0.0, segments[0][0] - LEAD_S), segments[-1][1] + TAIL_S
    partials, starts = tools.speaker.partials(x16[int(first * ANALYSIS_RATE) : int(last * ANALYSIS_RATE)])
    starts = starts + first
    inside = (starts >= a - 0.05) & (starts + 1.6 <= b + 0.05)
    if inside.any():
        embedding = average(partials[inside])
    else:
        embedding = tools.speaker.embed(x16[int(a * ANALYSIS_RATE) : int(b * ANALYSIS_RATE)])
    lap("embedding")

    extra: list[quality.Finding] = []
    details: dict[str, Any] = {"prompt": {"start_s": round(a, 3), "end_s": round(b, 3)}}
    metrics["speaker_consistency"], _ = clip_metrics.consistency(partials)
    if heard is not None:
        metrics["transcript_confidence"] = heard.confidence
        if transcript:
            mismatch = clip_metrics.word_error_rate(transcript, heard.text)
            metrics["transcript_mismatch"] = mismatch
            if mismatch > 0.5:
                extra.append(quality.Finding("transcript_mismatch", "warn", mismatch, "the transcript you gave "
                             f"differs from what the recognizer hears in {mismatch:.0%} of the words: check it "
                             f"matches the clip word for word (heard: {heard.text!r})."))  # fmt: skip
        if text is not None:
            metrics["wer"] = clip_metrics.word_error_rate(text, heard.text)
    if against is not None:
        metrics["similarity"] = cosine(embedding, against)
    for name, other in existing:
        similarity = cosine(embedding, other)
        if similarity >= limits.near_duplicate:
            details.setdefault("near_duplicates", []).append(
                {"voice": name, "similarity": round(similarity, 3)}
            )
            extra.append(quality.Finding("near_duplicate", "warn", similarity, f"this voice sounds like the "
                         f"enrolled voice {name!r} (similarity {similarity:.2f}): it may be the same speaker "
                         "twice; remove one, or keep both if that is intended."))  # fmt: skip
    final_transcript = transcript or (heard.text if heard else "")
    final_language = language or (heard.language if heard else "")
    report = quality.judge(metrics, settings.quality, extra=extra, transcript=final_transcript,
                           language=final_language, details=details)  # fmt: skip
    prompt = samples[int(a * rate) : int(b * rate)]
    prompt = resample(prompt, rate, PROMPT_RATE) if rate != PROMPT_RATE else prompt
    lap("check")
    return Analysis(report, np.asarray(prompt, dtype=np.float32), final_transcript, final_language, embedding,
                    duration, (a, b), timings)  # fmt: skip


def rejection(report: quality.QualityReport) -> ClipRejected:
    """The error for a rejected clip: its reasons and advice in the message, the full report attached."""
    reasons = [f.message for f in report.findings if f.severity == "reject"]
    reasons = reasons or [f.message for f in report.findings] or [f"the score {report.score:.2f} is too low"]
    return ClipRejected(
        "the clip was rejected and nothing was stored: " + " ".join(reasons), param="file",
        quality=report.to_dict(),
    )  # fmt: skip
