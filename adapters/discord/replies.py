"""What the bot says: compact embeds for quality reports and the voice list, short error texts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import discord

from hub.api import VoiceInfo, VoxhubError, headline_numbers

COLOURS = {"accept": 0x2ECC71, "warn": 0xF1C40F, "reject": 0xE74C3C}
ICONS = {"accept": "✅", "warn": "⚠️", "reject": "❌"}
EMBED_FIELD_MAX = 1024
MAX_LISTED = 50


def report_embed(report: Mapping[str, Any], title: str) -> discord.Embed:
    """A quality report (QualityReport.to_dict()) as an embed: verdict, main numbers, advice."""
    verdict = str(report.get("verdict", "reject"))
    score = float(report.get("score", 0.0))
    embed = discord.Embed(
        title=f"{ICONS.get(verdict, '')} {title}: {verdict} (score {score:.2f})".strip(),
        colour=COLOURS.get(verdict, 0x95A5A6),
    )
    numbers = headline_numbers(report)
    if numbers:
        embed.add_field(name="measured", value=" · ".join(numbers), inline=False)
    advice = [f"• {f['message']}" for f in report.get("findings", []) if f.get("severity") != "info"]
    if advice:
        embed.add_field(name="advice", value=_clip("\n".join(advice)), inline=False)
    if report.get("transcript"):
        embed.add_field(name="heard", value=_clip(f"“{report['transcript']}”"), inline=False)
    return embed


def voices_embed(voices: Sequence[VoiceInfo], current: str) -> discord.Embed:
    """The voice library: cloned voices first (what the server made), then the presets."""
    cloned = [v.name for v in voices if v.kind == "cloned"]
    presets = [v.name for v in voices if v.kind != "cloned"]
    embed = discord.Embed(title=f"{len(voices)} voices", colour=0x5865F2)
    for label, names in (("cloned", cloned), ("presets", presets)):
        if names:
            shown = ", ".join(names[:MAX_LISTED]) + (
                f" … (+{len(names) - MAX_LISTED})" if len(names) > MAX_LISTED else ""
            )
            embed.add_field(name=label, value=_clip(shown), inline=False)
    embed.set_footer(text=f"your voice: {current} · /voice use NAME to change it")
    return embed


def error_text(exc: VoxhubError) -> str:
    """A hub error as one short line for an ephemeral reply (close matches are already in the message)."""
    message = exc.message
    if exc.code == "voice_not_found":
        close = exc.extra.get("close_matches") or []
        wanted = message.split("'")[1] if "'" in message else "that voice"
        hint = f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
        return f"❌ There is no voice `{wanted}`.{hint} `/voice list` shows them all."
    if exc.code == "voice_exists" and "preset" not in message:
        return "❌ A voice with that name exists already: pick another name, or `/voice remove` it first."
    if exc.code == "consent_required":
        return (
            "❌ Not enrolled: cloning a voice needs its owner's permission. If the speaker agreed, run "
            "`/voice enroll` again with `consent: True`."
        )
    if exc.code == "engine_unavailable":
        return f"❌ Speech is unavailable right now ({message}). Try again in a minute."
    return f"❌ {message[:1900]}"


def _clip(text: str) -> str:
    return text if len(text) <= EMBED_FIELD_MAX else text[: EMBED_FIELD_MAX - 1] + "…"
