"""The voice directory: every voice by name — engine presets and cloned voices from the library — resolved,
listed and described in one place, with close matches when a name is wrong."""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

import numpy as np

from engines.core.interface import AudioChunk, EngineInfo, VoiceInfo
from hub.errors import InvalidRequest, VoiceNotFound
from hub.library import VoiceLibrary, VoiceRecord
from hub.settings import VoicesSettings
from hub.workers import EnginePool


class VoiceDirectory:
    """Resolves names (and aliases, and the default) to voices over the running engines and the library."""

    def __init__(
        self, settings: VoicesSettings, library: VoiceLibrary, pools: Mapping[str, EnginePool]
    ) -> None:
        self.settings = settings
        self.library = library
        self.pools = pools

    def engines(self) -> list[EngineInfo]:
        """The running engines (an engine whose workers are down is left out)."""
        return [pool.info for pool in self.pools.values() if pool.info is not None]

    def presets(self) -> dict[str, VoiceInfo]:
        return {voice.name: voice for info in self.engines() for voice in info.voices}

    def reserved(self, name: str) -> bool:
        """Whether `name` is taken by a preset voice or an alias (a cloned voice cannot have it)."""
        return name in self.presets() or name in self.settings.aliases

    async def list(self) -> list[VoiceInfo]:
        """Every voice: presets of running engines, then cloned voices from the library."""
        # One query, no per-voice lookups: listings (HTTP, Wyoming describe, MQTT select) grow linearly.
        infos = await asyncio.to_thread(self.library.list_voice_infos)
        fallback = self._cloning_engine()  # once per listing, not once per voice
        return [*self.presets().values(), *(self.cloned(info, fallback) for info in infos)]

    def _cloning_engine(self) -> str | None:
        return next((e.name for e in self.engines() if e.cloning), None)

    def cloned(self, info: VoiceInfo | VoiceRecord, fallback: str | None = None) -> VoiceInfo:
        """A stored voice with the engine that will speak it: its own if enabled, else the cloning engine
        (`fallback`, when the caller already knows it)."""
        if isinstance(info, VoiceRecord):
            info = info.to_info()
        own = info.engine if info.engine and info.engine in self.pools else None
        engine = own or fallback or self._cloning_engine() or info.engine
        return info if engine == info.engine else dataclasses.replace(info, engine=engine)

    async def resolve(self, name: str | None) -> tuple[VoiceInfo, VoiceRecord | None]:
        """The voice, and for a cloned one its library record, read once for the caller to use."""
        wanted = name or self.settings.default
        wanted = self.settings.aliases.get(wanted, wanted)
        presets = self.presets()
        if wanted in presets:
            return presets[wanted], None
        record = await asyncio.to_thread(self.library.get_voice, wanted)
        if record is not None:
            return self.cloned(record), record
        known = [*presets, *await asyncio.to_thread(self.library.voice_names)]
        close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise VoiceNotFound(
            f"voice {wanted!r} not found; {hint}GET /v1/voices (or `voxhub voices list`) lists the "
            f"{len(known)} available voices",
            param="voice",
            close_matches=close,
        )

    async def details(self, name: str) -> dict[str, Any]:
        """A voice as `list` shows it, plus (for cloned voices) transcript, quality report and metadata."""
        voice, record = await self.resolve(name)
        details = voice.to_dict()
        if record is not None:
            details.update(
                transcript=record.transcript,
                language=record.language,
                quality=record.quality,
                metadata=record.metadata,
                reference_seconds=round(len(record.reference) / 4 / max(record.reference_rate, 1), 3),
                has_embedding=bool(record.embedding),
                created_at=record.created_at,
                updated_at=record.updated_at,
                consent=record.consent,
            )
        return details

    async def reference_clip(self, name: str) -> AudioChunk:
        """A cloned voice's stored reference clip (16-bit PCM); presets have none (InvalidRequest)."""
        voice, record = await self.resolve(name)
        if record is None:
            raise InvalidRequest(
                f"{voice.name!r} is a preset voice: only cloned voices have a reference clip", param="name"
            )
        samples = np.frombuffer(record.reference, dtype="<f4")
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        return AudioChunk(record.reference_rate, 2, 1, pcm)

    async def delete(self, name: str) -> None:
        if name in self.presets():
            raise InvalidRequest(
                f"{name!r} is a preset voice of an engine and cannot be removed", param="name"
            )
        if not await asyncio.to_thread(self.library.delete_voice, name):
            await self.resolve(name)  # raises VoiceNotFound with suggestions
            raise VoiceNotFound(f"voice {name!r} not found", param="name")

    async def user_voice(self, platform: str, user_id: str) -> str | None:
        """The voice a chat user chose on `platform` (e.g. "discord"), if it still exists; else None."""
        name = await asyncio.to_thread(self.library.get_user_voice, platform, user_id)
        if name is None:
            return None
        try:
            return (await self.resolve(name))[0].name
        except VoiceNotFound:
            return None

    async def set_user_voice(self, platform: str, user_id: str, voice: str | None) -> VoiceInfo | None:
        """Remember a chat user's voice (checked now: VoiceNotFound lists close matches); None forgets it."""
        info = None if voice is None else (await self.resolve(voice))[0]
        await asyncio.to_thread(
            self.library.set_user_voice, platform, user_id, None if info is None else info.name
        )
        return info


def voice_language(voice: VoiceInfo) -> str:
    """The language a voice's text is normalized in: its first declared one, else English."""
    return voice.languages[0] if voice.languages else "en"
