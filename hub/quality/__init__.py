"""Quality: what a listener would notice about a clip, measured, judged and explained.

Modules: measures (DSP numbers and word error rate), vad (where the speech is), asr (transcription),
speaker (speaker embeddings and similarity), report (findings, verdict, advice: `judge`), clip (one
reference clip analysed end to end: trim, transcribe, embed, judge), workers (the processes that run the
analysis and its models, outside the daemon).
"""

from hub.quality.report import (
    HEADLINE_METRICS,
    SEVERITIES,
    VERDICT_EXIT,
    Finding,
    QualityReport,
    headline_numbers,
    judge,
)

__all__ = [
    "HEADLINE_METRICS",
    "SEVERITIES",
    "VERDICT_EXIT",
    "Finding",
    "QualityReport",
    "headline_numbers",
    "judge",
]
