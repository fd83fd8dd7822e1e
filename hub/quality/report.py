"""The quality verdict on a voice clip: findings with plain advice, a score and a verdict.

The measurements (hub.quality.measures: loudness, clipping, SNR, bandwidth, ...) plus what the models add
(speech from the VAD, speaker consistency, transcript confidence) go to `judge`, which turns them into
findings; the thresholds are `[quality]` settings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
