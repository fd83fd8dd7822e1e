"""What people type to the bot, parsed; and the text of its replies (Slack mrkdwn)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from hub.api import VOICE_NAME, headline_numbers

# A voice name as the library allows it, then a colon: `/say alice: Hello`. The colon must not start
# `//` (a pasted URL) and the name must be followed by text.
_VOICE_PREFIX = re.compile(rf"^\s*({VOICE_NAME.pattern}):(?!//)\s*(\S.*)$", re.DOTALL)
# Slack's markup for mentions, channels and links: <@U123>, <@U123|ann>, <#C1|general>, <https://x|label>.
_MARKUP = re.compile(r"<([@#!]?)([^>|]*)(?:\|([^>]*))?>")
FIRST_WORDS = 8

HELP = (
    "*voxhub* speaks in cloned voices.\n"
    "• `/say TEXT`: post TEXT as audio in your voice (or the default voice)\n"
    "• `/say NAME: TEXT`: in the voice NAME\n"
    "• `/voice list`: the voices; `/voice use NAME` (or `/voice use default`): your voice for `/say`\n"
    "• `/voice remove NAME`: delete a cloned voice (voice managers only)\n"
    "• Clone a voice: send me a direct message (or mention me) with an audio file of 5-15 s of clear "
    "speech and the text `enroll NAME consent` (`consent`: you confirm the speaker agreed to being cloned; "
    "`enroll NAME consent replace` overwrites it); `check` with a file gives "
    "the quality report only."
)


@dataclass(frozen=True)
class Say:
    """A `/say` command: the text and the voice named in it (None: the user's or the default)."""

    text: str
    voice: str | None = None


def plain_text(text: str) -> str:
    """Slack's escaped text as a person reads it: mentions by name, links by label, entities decoded."""

    def replace(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if label:
            return label
        if sigil in ("@", "#"):
            return ""  # an id (U0123...) spoken aloud means nothing
        if sigil == "!":
            return target.split("^", 1)[0]  # <!here>, <!channel>
        return target

    return html.unescape(_MARKUP.sub(replace, text)).strip()


def parse_say(text: str) -> Say:
    """`NAME: TEXT` or `TEXT`."""
    match = _VOICE_PREFIX.match(text)
    if match:
        return Say(plain_text(match.group(2)), match.group(1))
    return Say(plain_text(text))


def parse_voice_command(text: str) -> tuple[str, str]:
    """`/voice SUB ARG` -> (sub, arg), sub lower-cased ("help" when empty)."""
    sub, _, arg = text.strip().partition(" ")
    return (sub.lower() or "help"), arg.strip()


@dataclass(frozen=True)
class FileCommand:
    """A message carrying a clip: `enroll NAME [consent] [replace]` or `check`."""

    action: str
    name: str = ""
    replace: bool = False
    consent: bool = False
    """The enroller wrote `consent`: they confirm the speaker agreed to being cloned."""


def parse_file_message(text: str) -> FileCommand | None:
    """The command in a message to the bot (mentions removed), or None when it asks for nothing."""
    words = _MARKUP.sub(" ", text).split()
    if not words:
        return None
    action = words[0].lower()
    if action == "enroll":
        name = words[1] if len(words) > 1 else ""
        flags = {w.lower() for w in words[2:]}
        return FileCommand("enroll", name, replace="replace" in flags, consent="consent" in flags)
    if action == "check":
        return FileCommand("check")
    return None


def first_words(text: str, count: int = FIRST_WORDS) -> str:
    words = text.split()
    head = " ".join(words[:count])
    return head + ("…" if len(words) > count else "")


def say_comment(user: str, voice: str, text: str) -> str:
    """The comment above a posted clip: who asked, which voice, the first words."""
    return f":speaking_head_in_silhouette: <@{user}> in the voice *{voice}*: “{first_words(text)}”"


def voice_list(voices: list[Any], mine: str | None, default: str) -> str:
    """`/voice list`: presets and cloned voices, the caller's and the default one marked."""
    lines = []
    for voice in voices:
        marks = [m for m, on in (("yours", voice.name == mine), ("default", voice.name == default)) if on]
        extra = f" ({', '.join(marks)})" if marks else ""
        lang = f", {voice.language}" if getattr(voice, "language", "") else ""
        lines.append(f"• `{voice.name}`: {voice.kind}{lang}{extra}")
    return (
        f"*{len(voices)} voices*\n" + "\n".join(lines) + "\nUse one: `/say NAME: TEXT` or `/voice use NAME`."
    )


_VERDICT_ICON = {"accept": ":white_check_mark:", "warn": ":warning:", "reject": ":x:"}


def quality_report(report: dict[str, Any], headline: str) -> str:
    """A quality report (QualityReport.to_dict()) as a thread reply: verdict, numbers, advice."""
    verdict = str(report.get("verdict", "?"))
    lines = [f"{_VERDICT_ICON.get(verdict, '')} {headline}",
             f"*Verdict: {verdict}* (score {float(report.get('score', 0)):.2f})"]  # fmt: skip
    numbers = headline_numbers(report)
    if numbers:
        lines.append(" · ".join(numbers))
    for finding in report.get("findings") or []:
        lines.append(f"• _{finding.get('severity')}_ {finding.get('message')}")
    if report.get("transcript"):
        lines.append(f"Heard: “{report['transcript']}”")
    return "\n".join(lines)


def error_text(exc: Any, voice: str | None = None, *, from_say: bool = False) -> str:
    """A hub error (VoxhubError) as a chat reply: what went wrong and what to type instead."""
    code = getattr(exc, "code", "")
    extra = getattr(exc, "extra", {}) or {}
    if code == "voice_not_found":
        close = extra.get("close_matches") or []
        hint = f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
        colon = " (To speak text that starts with a word and a colon, put a space before the colon.)"
        return f":warning: There is no voice named `{voice}`.{hint} `/voice list` shows every voice.{colon * from_say}"
    if code == "consent_required":
        return (f":warning: Voice `{voice}` was *not* stored: cloning a voice needs its owner's permission. If the "
                f"speaker agreed, send the file again with `enroll {voice} consent`.")  # fmt: skip
    if code == "voice_exists":
        return f":warning: {exc.message.split(':')[0]}: send `enroll NAME consent replace` to overwrite it."
    message = exc.message.rstrip(". ")
    if getattr(exc, "status", 500) >= 500:  # the engine, not the request: nothing to fix in the command
        return f":warning: {message}. If it keeps happening, tell whoever runs voxhub."
    return f":warning: {message}."


def unexpected(exc: BaseException) -> str:
    """A failure nobody planned for: say so plainly, without internals beyond the error's name."""
    error = getattr(getattr(exc, "response", None), "get", lambda *_: None)("error")
    if error == "missing_scope":
        return ":warning: The Slack app lacks a scope it needs; an admin must add it (README: Slack) and reinstall."
    return f":warning: Something went wrong ({error or type(exc).__name__}); the voxhub log has the details."
