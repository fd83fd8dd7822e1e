"""The facade's vocabulary: what a client asks for (SpeechRequest), what it gets back (SpeechStream), and what
an enroller confirms (Consent). Plain data: importing it pulls in none of the hub's machinery."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.core.interface import AudioChunk, VoiceInfo
from hub.errors import EngineUnavailable
from hub.scheduler import Priority

CONSENT_STATEMENT = "the enroller confirms that the speaker in the clip consented to their voice being cloned"
CONSENT_HOW = ("`voxhub voices add NAME CLIP --consent` on the command line, `\"consent\": true` in HTTP (JSON, or "
               "`consent=true` as a multipart field) and in MQTT enroll payloads, `enroll NAME consent` in Slack, "
               "`consent: True` in Discord's `/voice enroll`, the consent box in the web UI")  # fmt: skip


@dataclass(frozen=True)
class SpeechRequest:
    """What a client asks for, in the hub's terms."""

    text: str
    voice: str | None = None
    """Voice name, an alias from [voices.aliases] (OpenAI's alloy, ...), or None for the default voice."""
    speed: float = 1.0
    speaker: str | None = None
    engine: str | None = None
    """Force an engine; None = the voice's own engine."""
    priority: Priority = Priority.NORMAL
    options: Mapping[str, Any] = field(default_factory=dict)
    first_index: int = 0
    """Position of this text's first sentence in a longer stream (see `Hub.open_session`): later sentences of
    a stream queue behind other clients' first ones."""
    language: str = ""
    """The language to speak; empty = the voice's own (a cloned voice's enrolled language)."""
    cache: bool = True
    """False: neither read nor fill the synthesis cache (long-form jobs, whose sentences rarely repeat)."""


@dataclass
class SpeechStream:
    """Audio for one request, sentence by sentence. Iterate it once."""

    voice: VoiceInfo
    engine: str
    sentences: list[str]
    _chunks: AsyncIterator[AudioChunk]
    cached_sentences: int = 0

    def __aiter__(self) -> AsyncIterator[AudioChunk]:
        return self._chunks

    async def aclose(self) -> None:
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()

    async def collect(self) -> AudioChunk:
        """All audio joined into one chunk."""
        parts: list[AudioChunk] = [chunk async for chunk in self]
        if not parts:
            raise EngineUnavailable("the engine produced no audio; retry the request")
        first = parts[0]
        return AudioChunk(first.rate, first.width, first.channels, b"".join(p.audio for p in parts))


@dataclass(frozen=True)
class Consent:
    """An enroller's confirmation that the speaker consented to being cloned, and who gave it where."""

    surface: str
    """Where the voice was enrolled: cli, http, mqtt, slack, discord, ui, ..."""
    user: str = ""
    """Who enrolled it there, where known (a chat user id, an API key's name)."""
    statement: str = CONSENT_STATEMENT

    def record(self) -> dict[str, Any]:
        """As the library keeps it with the voice."""
        return {"confirmed": True, "statement": self.statement, "surface": self.surface,
                "user": self.user or None, "at": time.time()}  # fmt: skip
