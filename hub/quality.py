"""The quality check of a voice clip: measurements, findings with plain advice, a score and a verdict.

Measurements are plain DSP on the decoded clip at its own sample rate (loudness per ITU-R BS.1770,
peak, clipping, SNR, bandwidth, DC offset) plus what the models add (speech from the VAD, speaker
consistency across windows, transcript confidence). `judge` turns them into findings; the thresholds
are `[quality]` settings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub.settings import QualitySettings

SEVERITIES = ("info", "warn", "reject")
VERDICT_EXIT = {"accept": 0, "warn": 1, "reject": 2}
_PENALTY = {"info": 1.0, "warn": 0.85, "reject": 0.3}


@dataclass(frozen=True)
class Finding:
    """One problem (or note) about a clip."""

    code: str
    """Stable identifier, e.g. `clipping`."""
    severity: str
    """info, warn or reject."""
    value: float
    """The measured number the finding is about."""
    message: str
    """What is wrong and how to fix it, in plain words."""

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "value": _round(self.value),
                "message": self.message}  # fmt: skip


@dataclass(frozen=True)
class QualityReport:
    """The verdict on a clip: accept, warn or reject, with a 0-1 score and the findings behind it."""

    verdict: str
    score: float
    metrics: Mapping[str, float | None]
    findings: tuple[Finding, ...] = ()
    transcript: str = ""
    language: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Extra context: the chosen prompt stretch, the compared voice, near duplicates."""

    @property
    def exit_code(self) -> int:
        """0 accept, 1 warn, 2 reject (the `voxhub check` exit status)."""
        return VERDICT_EXIT[self.verdict]

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "score": round(self.score, 3),
            "findings": [f.to_dict() for f in self.findings],
            "metrics": {k: _round(v) for k, v in self.metrics.items()},
            "transcript": self.transcript,
            "language": self.language,
            **({"details": dict(self.details)} if self.details else {}),
        }

    def summary(self) -> str:
        """A few human-readable lines: the verdict, then one line per finding."""
        lines = [f"verdict: {self.verdict} (score {self.score:.2f})"]
        lines += [f"  {f.severity:<6} {f.code}: {f.message}" for f in self.findings]
        if self.transcript:
            lines.append(f"  transcript ({self.language or '?'}): {self.transcript}")
        return "\n".join(lines)


HEADLINE_METRICS = (
    ("duration_s", "length", "{:.1f} s"),
    ("speech_s", "speech", "{:.1f} s"),
    ("snr_db", "SNR", "{:.0f} dB"),
    ("loudness_lufs", "loudness", "{:.0f} LUFS"),
    ("clipping_ratio", "clipping", "{:.1%}"),
    ("bandwidth_hz", "bandwidth", "{:.0f} Hz"),
    ("speaker_consistency", "one speaker", "{:.2f}"),
)
"""The numbers of a report a person can act on, in reading order: metric key, label, format."""


def headline_numbers(report: Mapping[str, Any]) -> list[str]:
    """The main measured numbers of a report (QualityReport.to_dict()) as labelled strings, e.g. "SNR 18 dB";
    missing and non-finite values are left out. Chat replies (Discord, Slack) show these."""
    metrics = report.get("metrics") or {}
    numbers = []
    for key, label, fmt in HEADLINE_METRICS:
        value = metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            numbers.append(f"{label} {fmt.format(value)}")
    return numbers


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 4)
    return value


# --- measurements ----------------------------------------------------------------------------------


def _biquad_response(
    b: tuple[float, float, float], a: tuple[float, float, float], w: np.ndarray
) -> np.ndarray:
    z = np.exp(-1j * w)
    return np.abs((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z))


def k_weighting(rate: int, n_bins: int) -> np.ndarray:
    """|H| of BS.1770's K-weighting (shelf + high-pass) at `n_bins` rfft bins for `rate`."""
    w = np.linspace(0, np.pi, n_bins)
    # Stage 1: +4 dB high shelf at 1.5 kHz (pyloudnorm's design of the standard's filter, any rate).
    gain, q, fc = 4.0, 1 / math.sqrt(2), 1500.0
    big_a, w0 = 10 ** (gain / 40), 2 * math.pi * fc / rate
    alpha, cos0, root = math.sin(w0) / (2 * q), math.cos(w0), math.sqrt(big_a)
    shelf_b = (big_a * ((big_a + 1) + (big_a - 1) * cos0 + 2 * root * alpha),
               -2 * big_a * ((big_a - 1) + (big_a + 1) * cos0),
               big_a * ((big_a + 1) + (big_a - 1) * cos0 - 2 * root * alpha))  # fmt: skip
    shelf_a = ((big_a + 1) - (big_a - 1) * cos0 + 2 * root * alpha,
               2 * ((big_a - 1) - (big_a + 1) * cos0),
               (big_a + 1) - (big_a - 1) * cos0 - 2 * root * alpha)  # fmt: skip
    # Stage 2: the "RLB" high-pass at 38 Hz.
    w0, q = 2 * math.pi * 38.0 / rate, 0.5
    alpha, cos0 = math.sin(w0) / (2 * q), math.cos(w0)
    hp_b = ((1 + cos0) / 2, -(1 + cos0), (1 + cos0) / 2)
    hp_a = (1 + alpha, -2 * cos0, 1 - alpha)
    return _biquad_response(shelf_b, shelf_a, w) * _biquad_response(hp_b, hp_a, w)


def loudness_lufs(x: np.ndarray, rate: int) -> float:
    """Integrated loudness (BS.1770-4, mono, gated). -inf for silence."""
    if len(x) == 0:
        return -math.inf
    # Loudness only needs energy per block, so the K-filter is applied as a zero-phase magnitude
    # response in the frequency domain: the same energies, in numpy alone.
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float64))
    y = np.fft.irfft(spectrum * k_weighting(rate, len(spectrum)), n=len(x))
    block, hop = int(0.4 * rate), int(0.1 * rate)
    if len(y) < block:
        powers = np.array([np.mean(y * y)])
    else:
        starts = range(0, len(y) - block + 1, hop)
        powers = np.array([np.mean(y[s : s + block] ** 2) for s in starts])
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(powers)
    gated = powers[levels > -70.0]
    if not len(gated):
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(np.mean(gated))) - 10.0
    final = powers[(levels > -70.0) & (levels > relative)]
    return -0.691 + 10 * math.log10(float(np.mean(final)))


def clipped_samples(x: np.ndarray) -> np.ndarray:
    """True where a sample is stuck at the clip's extreme level in a run of 3 or more (a flat top)."""
    magnitude = np.abs(x)
    mask = np.zeros(len(x), dtype=bool)
    peak = float(magnitude.max()) if len(x) else 0.0
    if peak < 0.1:
        return mask
    at_peak = magnitude >= peak - 5e-5  # within ~1.5 steps of 16-bit audio: held, not passing through
    # A clean waveform touches its peak at isolated samples; clipping holds it for several in a row.
    padded = np.concatenate([[False], at_peak, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= 3:
            mask[start:end] = True
    return mask


def clipping_ratio(x: np.ndarray) -> float:
    """Share of samples in flat-topped (clipped) runs."""
    return float(clipped_samples(x).mean()) if len(x) else 0.0


def _frame_powers(x: np.ndarray, rate: int, seconds: float = 0.02) -> np.ndarray:
    n = max(1, int(rate * seconds))
    frames = len(x) // n
    if frames == 0:
        return np.array([float(np.mean(np.square(x))) if len(x) else 0.0])
    return np.mean(np.square(x[: frames * n].reshape(frames, n), dtype=np.float64), axis=1)


def _speech_mask(n_frames: int, frame_s: float, segments: Iterable[tuple[float, float]]) -> np.ndarray:
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in segments:
        mask[int(start / frame_s) : math.ceil(end / frame_s)] = True
    return mask


def snr_db(x: np.ndarray, rate: int, segments: list[tuple[float, float]]) -> float:
    """Speech-to-noise ratio: speech frames' power over the noise floor (pauses, or the quietest frames)."""
    powers = _frame_powers(x, rate)
    speech = _speech_mask(len(powers), 0.02, segments)
    if not speech.any():
        return 0.0
    floor = float(np.percentile(powers, 10))
    if (~speech).sum() >= 15:  # at least 0.3 s outside speech: measure the floor there
        floor = min(floor, float(np.median(powers[~speech])))
    signal = float(np.mean(powers[speech])) - floor
    if floor <= 1e-12:
        return 100.0
    return 10 * math.log10(max(signal, 1e-12) / floor)


def bandwidth_hz(x: np.ndarray, rate: int, segments: list[tuple[float, float]]) -> float:
    """The highest frequency where the speech still has energy within 50 dB of its strongest band."""
    n = 1024
    frames = len(x) // n
    if frames == 0:
        return rate / 2
    blocks = x[: frames * n].reshape(frames, n)
    speech = _speech_mask(frames, n / rate, segments)
    if speech.any():
        blocks = blocks[speech]
    spectrum = np.mean(np.abs(np.fft.rfft(blocks * np.hanning(n), axis=1)) ** 2, axis=0)
    smooth = np.convolve(spectrum, np.ones(5) / 5, mode="same")
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(smooth + 1e-20)
    loud = np.flatnonzero(db > db.max() - 50.0)
    return float(loud[-1]) * rate / n if len(loud) else 0.0


def measure(x: np.ndarray, rate: int, segments: list[tuple[float, float]]) -> dict[str, float]:
    """The DSP measurements of a mono clip at its native rate, given its speech segments (seconds)."""
    duration = len(x) / rate if rate else 0.0
    speech = sum(end - start for start, end in segments)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    return {
        "duration_s": duration,
        "speech_s": speech,
        "silence_ratio": 1.0 - speech / duration if duration else 1.0,
        "loudness_lufs": loudness_lufs(x, rate),
        "peak_dbfs": 20 * math.log10(peak) if peak > 0 else -math.inf,
        "clipping_ratio": clipping_ratio(x),
        "snr_db": snr_db(x, rate, segments),
        "bandwidth_hz": bandwidth_hz(x, rate, segments),
        "dc_offset": float(np.mean(x)) if len(x) else 0.0,
        "sample_rate": float(rate),
    }


# --- speaker consistency and word error rate --------------------------------------------------------


def consistency(partials: np.ndarray) -> tuple[float, float]:
    """Split window embeddings into two groups (2-means, cosine); (similarity of their centres, minority share).

    One speaker gives two groups that still match closely; two speakers give two distinct centres.
    """
    n = len(partials)
    if n < 4:
        return 1.0, 0.0
    unit = partials / np.linalg.norm(partials, axis=1, keepdims=True)
    sims = unit @ unit.T
    i, j = np.unravel_index(np.argmin(sims), sims.shape)
    centres = unit[[i, j]]
    labels = np.zeros(n, dtype=int)
    for _ in range(10):
        labels = np.argmax(unit @ centres.T, axis=1)
        if labels.min() == labels.max():
            return 1.0, 0.0
        new = np.stack([unit[labels == k].mean(axis=0) for k in (0, 1)])
        new /= np.linalg.norm(new, axis=1, keepdims=True)
        if np.allclose(new, centres):
            break
        centres = new
    minority = min(int((labels == 0).sum()), int((labels == 1).sum())) / n
    return float(centres[0] @ centres[1]), minority


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing transcripts."""
    return re.sub(r"[^\w' ]+", " ", text.lower()).replace("'", "").split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words, divided by the reference's length."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    row = list(range(len(hyp) + 1))
    for r_word in ref:
        prev, row[0] = row[0], row[0] + 1
        for k, h_word in enumerate(hyp, start=1):
            prev, row[k] = row[k], min(row[k] + 1, row[k - 1] + 1, prev + (r_word != h_word))
    return row[-1] / len(ref)


# --- judging -------------------------------------------------------------------------------------------


def judge(
    metrics: Mapping[str, float | None],
    limits: QualitySettings,
    *,
    extra: Iterable[Finding] = (),
    transcript: str = "",
    language: str = "",
    details: Mapping[str, Any] | None = None,
) -> QualityReport:
    """Findings for every measurement past its threshold, a 0-1 score and the verdict."""
    findings = [*_findings(metrics, limits), *extra]
    score = 1.0
    for finding in findings:
        score *= _PENALTY[finding.severity]
    severities = {f.severity for f in findings}
    if "reject" in severities or score < limits.reject_score:
        verdict = "reject"
    elif "warn" in severities or score < limits.accept_score:
        verdict = "warn"
    else:
        verdict = "accept"
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: order[f.severity])
    return QualityReport(
        verdict, score, dict(metrics), tuple(findings), transcript, language, dict(details or {})
    )


def _findings(m: Mapping[str, float | None], t: QualitySettings) -> list[Finding]:
    out: list[Finding] = []

    def get(key: str) -> float | None:
        value = m.get(key)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    speech = get("speech_s") or 0.0
    if speech <= 0:
        out.append(Finding("no_speech", "reject", 0.0, "no speech found: the clip is silent or only noise. "
                           "Record yourself reading a few sentences aloud, 5-10 seconds."))  # fmt: skip
        return out  # nothing else means much without speech
    if speech < t.min_speech_s:
        out.append(Finding("too_short", "reject", speech, f"only {speech:.1f} s of speech, at least "
                           f"{t.min_speech_s:g} s are needed: record 5-10 seconds of continuous speech."))  # fmt: skip
    silence = get("silence_ratio")
    if silence is not None and silence > t.max_silence_ratio:
        out.append(Finding("silence", "warn", silence, f"{silence:.0%} of the clip is silence: trim the "
                           "pauses, or record again speaking throughout."))  # fmt: skip
    clipped = get("clipping_ratio")
    if clipped is not None and clipped > t.max_clipping_ratio:
        severity = "reject" if clipped > 10 * t.max_clipping_ratio else "warn"
        out.append(Finding("clipping", severity, clipped, f"the clip is clipped in {clipped:.1%} of samples: "
                           "record further from the microphone or turn the input gain down."))  # fmt: skip
    snr = get("snr_db")
    if snr is not None and snr < t.min_snr_db:
        severity = "reject" if snr < t.min_snr_db - 10 else "warn"
        out.append(Finding("noise", severity, snr, f"the background noise is loud (signal-to-noise about "
                           f"{snr:.0f} dB): record in a quiet room, away from fans, traffic and music."))  # fmt: skip
    bandwidth = get("bandwidth_hz")
    if bandwidth is not None and bandwidth < t.min_bandwidth_hz:
        out.append(Finding("bandwidth", "warn", bandwidth, f"the audio only reaches {bandwidth / 1000:.1f} kHz, "
                           "like a phone call or an 8 kHz recording, so the clone will sound muffled: record "
                           "with a real microphone at 24 kHz or more, not over the phone."))  # fmt: skip
    lufs = get("loudness_lufs")
    if lufs is not None and lufs < t.min_loudness_lufs:
        out.append(Finding("too_quiet", "warn", lufs, f"the clip is very quiet ({lufs:.0f} LUFS): speak closer "
                           "to the microphone or raise the input gain."))  # fmt: skip
    dc = get("dc_offset")
    if dc is not None and abs(dc) > t.max_dc_offset:
        out.append(Finding("dc_offset", "warn", dc, f"the waveform is shifted off centre by {dc:+.3f} (DC "
                           "offset): the microphone or sound card adds a bias; try another input."))  # fmt: skip
    same = get("speaker_consistency")
    if same is not None and same < t.min_speaker_consistency:
        out.append(Finding("multiple_speakers", "reject", same, "the clip seems to hold more than one voice "
                           f"(its parts match only {same:.0%}): record only the person to clone, with nobody "
                           "else talking and no music or TV behind."))  # fmt: skip
    confidence = get("transcript_confidence")
    if confidence is not None and confidence < t.min_transcript_confidence:
        out.append(Finding("unclear_speech", "warn", confidence, "the speech recognizer is unsure what is "
                           f"said (confidence {confidence:.0%}): speak clearly, or give the transcript "
                           "yourself (--transcript)."))  # fmt: skip
    similarity = get("similarity")
    if similarity is not None and similarity < t.min_similarity:
        severity = "reject" if similarity < t.min_similarity - 0.15 else "warn"
        out.append(Finding("speaker_mismatch", severity, similarity, f"the voice matches the enrolled voice "
                           f"only {similarity:.0%}: the audio does not sound like that speaker."))  # fmt: skip
    wer = get("wer")
    if wer is not None and wer > t.max_wer:
        out.append(Finding("word_errors", "warn", wer, f"the recognizer heard {wer:.0%} of the words "
                           "differently from the text: the speech may be slurred or mispronounced."))  # fmt: skip
    return out
