"""What the Discord bot says: the quality embed and the short error lines."""

from __future__ import annotations

from adapters.discord import replies
from hub.errors import EngineUnavailable, TextTooLong, VoiceExists, VoiceNotFound

REPORT = {
    "verdict": "warn",
    "score": 0.61,
    "metrics": {"speech_s": 6.42, "snr_db": 18.4, "loudness_lufs": float("-inf"), "clipping_ratio": 0.012},
    "findings": [
        {
            "code": "noise",
            "severity": "warn",
            "value": 18.4,
            "message": "Background noise: record somewhere quieter.",
        },
        {"code": "language", "severity": "info", "value": 1.0, "message": "English detected."},
    ],
    "transcript": "my voice is my passport",
}


def test_the_report_embed_shows_verdict_numbers_and_advice_only() -> None:
    embed = replies.report_embed(REPORT, "enrolled mum").to_dict()
    assert embed["title"] == "⚠️ enrolled mum: warn (score 0.61)"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["measured"] == "speech 6.4 s · SNR 18 dB · clipping 1.2%"  # -inf loudness is left out
    assert fields["advice"] == "• Background noise: record somewhere quieter."  # info findings are not advice
    assert "passport" in fields["heard"]


def test_error_lines_are_short_and_say_what_to_do() -> None:
    missing = VoiceNotFound(
        "voice 'mun' not found; did you mean 'mum'?", param="voice", close_matches=["mum"]
    )
    assert (
        replies.error_text(missing)
        == "❌ There is no voice `mun`. Did you mean `mum`? `/voice list` shows them all."
    )
    taken = VoiceExists("voice 'mum' already exists: pass replace to overwrite it", param="name")
    assert "/voice remove" in replies.error_text(taken) and "replace" not in replies.error_text(taken)
    down = replies.error_text(EngineUnavailable("the piper engine is not running (crashed); retry later"))
    assert down.startswith("❌ Speech is unavailable right now") and "Try again" in down
    assert replies.error_text(TextTooLong("x" * 5000)).__len__() < 2000
