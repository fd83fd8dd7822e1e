"""The Hub facade: the only thing adapters import.

    async with Hub.open(settings) as hub:
        stream = await hub.synthesize(SpeechRequest("Dinner is ready.", voice="mum"))
        async for chunk in stream:
            ...

`synthesize` validates everything (text, voice, engine) before it returns, so adapters can map errors
to their own status codes before any audio is sent; the stream then yields audio sentence by sentence.
The work happens in hub.voices (names to voices), hub.synthesis (requests to audio), hub.enrollment (clips
to voices and reports), hub.jobs (long-form jobs) and hub.health; the Hub wires them and is what adapters see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from engines.core.interface import AudioChunk, EngineInfo, VoiceInfo
from hub import __version__, health
from hub.clips import ClipStore
from hub.enrollment import Enrollment
from hub.errors import (
    BadAudio,
    ConfigError,
    EngineUnavailable,
    Forbidden,
    InvalidRequest,
    NotFound,
    TooManyRequests,
    Unauthorized,
    UnsupportedFormat,
    UploadTooLarge,
    VoxhubError,
    WrongContentType,
)
from hub.hosting import AdapterHost, HttpRoute
from hub.jobs.audio import JOB_FORMATS
from hub.jobs.text import INPUT_FORMATS as JOB_INPUT_FORMATS
from hub.keys import KeyStore, digest
from hub.library import VoiceLibrary
from hub.quality import QualityReport, headline_numbers
from hub.quality.workers import AnalysisPool
from hub.rules import (
    MAX_SPEED,
    MIN_SPEED,
    OUTPUT_FORMATS,
    VOICE_NAME,
    check_engine,
    check_format,
    check_speed,
    check_text,
    check_voice_name,
)
from hub.scheduler import Priority
from hub.session import SpeechPart, SpeechSession, conform_chunk
from hub.settings import HttpSettings, Settings, parse_section
from hub.speech import Consent, SpeechRequest, SpeechStream
from hub.synthesis import Synthesizer
from hub.tasks import TaskSet
from hub.voices import VoiceDirectory
from hub.workers import EnginePool

log = logging.getLogger("voxhub.hub")
VERSION = __version__

# What adapters may use, besides the Hub itself: they import nothing else from voxhub.
__all__ = [
    "JOB_FORMATS", "JOB_INPUT_FORMATS", "MAX_SPEED", "MIN_SPEED", "OUTPUT_FORMATS", "VERSION", "VOICE_NAME",
    "AudioChunk", "BadAudio", "ConfigError", "Consent", "EngineInfo", "EngineUnavailable", "Forbidden",
    "HttpRoute", "HttpSettings", "Hub", "InvalidRequest", "NotFound", "Priority", "QualityReport",
    "SpeechPart", "SpeechRequest", "SpeechSession", "SpeechStream", "TaskSet", "TooManyRequests",
    "Unauthorized", "UnsupportedFormat", "UploadTooLarge", "VoiceInfo", "VoxhubError", "WrongContentType",
    "check_engine", "check_format", "check_speed", "check_text", "check_voice_name", "conform_chunk",
    "headline_numbers", "key_digest", "parse_section"
]  # fmt: skip

key_digest = digest
"""The hash a key is known by (a job's owner is the hash of the key that created it)."""


class Hub(AdapterHost):
    """Voices, synthesis, enrollment, jobs and health, over the engine pools and the voice library."""

    def __init__(self, settings: Settings, library: VoiceLibrary, pools: dict[str, EnginePool]) -> None:
        self.settings = settings
        self.started_at = time.time()
        self.voices = VoiceDirectory(settings.voices, library, pools)
        self.synthesis = Synthesizer(settings, library, pools, self.voices)
        self.analysis = AnalysisPool(settings)
        """Enroll/check analysis (and its models) runs in worker processes here, bounded; never in the daemon."""
        self.enrollment = Enrollment(settings.enroll, self.voices, self.analysis, self._voices_changed)
        self.keys = KeyStore(library, settings.http.api_keys)
        self.clips = ClipStore()
        AdapterHost.__init__(self)
        self._voice_listeners: list[Callable[[], None]] = []
        from hub.jobs.runner import JobRunner

        self.jobs = JobRunner(self)
        """Long-form jobs: submit, status, list, cancel, audio, listen (persisted chunk by chunk, resumed by `open`)."""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Hub]:
        """Open the library, start every enabled engine's workers; close them all on exit."""
        library = await asyncio.to_thread(VoiceLibrary.open, settings.db_path)
        pools = {e.name: EnginePool(e) for e in settings.enabled_engines}
        for pool in pools.values():
            pool.warmup_voice = settings.voices.aliases.get(settings.voices.default, settings.voices.default)
            pool.data_dir = settings.data_dir
            pool.scheduler.background_limit = max(1, pool.settings.workers - settings.jobs.reserved_workers)
            pool.pause_background = settings.jobs.pause_for_listeners
        hub = cls(settings, library, pools)
        try:
            await asyncio.gather(*(pool.start() for pool in pools.values()))
            await hub.jobs.start()  # jobs a crash interrupted go on from their last finished chunk
            yield hub
        finally:
            await hub.close()

    async def close(self) -> None:
        await self.jobs.close()
        self.analysis.close()
        pools = self.synthesis.pools.values()
        await asyncio.gather(*(pool.close() for pool in pools), return_exceptions=True)
        await asyncio.to_thread(self.synthesis.library.close)

    # --- what the hub has -----------------------------------------------------------------------------

    @property
    def library(self) -> VoiceLibrary:
        return self.synthesis.library

    @property
    def pools(self) -> Mapping[str, EnginePool]:
        return self.synthesis.pools

    @property
    def default_voice(self) -> str:
        return self.settings.voices.default

    @property
    def uptime_s(self) -> float:
        return time.time() - self.started_at

    def engines(self) -> list[EngineInfo]:
        """The running engines, with their voices and request options."""
        return self.voices.engines()

    def engine_names(self) -> list[str]:
        """Every enabled engine, running or not."""
        return list(self.synthesis.pools)

    # --- voices -----------------------------------------------------------------------------------

    async def list_voices(self) -> list[VoiceInfo]:
        """Every voice: presets of running engines, then cloned voices from the library."""
        return await self.voices.list()

    async def get_voice(self, name: str | None) -> VoiceInfo:
        """Resolve a name (or alias, or None for the default) to a voice; VoiceNotFound lists close matches."""
        return (await self.voices.resolve(name))[0]

    async def voice_details(self, name: str) -> dict[str, Any]:
        """A voice as `list_voices` shows it, plus (for cloned voices) transcript, quality report and metadata."""
        return await self.voices.details(name)

    async def reference_clip(self, name: str) -> AudioChunk:
        """A cloned voice's stored reference clip (16-bit PCM); presets have none (InvalidRequest)."""
        return await self.voices.reference_clip(name)

    async def delete_voice(self, name: str) -> None:
        await self.voices.delete(name)
        self._voices_changed()

    async def user_voice(self, platform: str, user_id: str) -> str | None:
        """The voice a chat user chose on `platform` (e.g. "discord"), if it still exists; else None."""
        return await self.voices.user_voice(platform, user_id)

    async def set_user_voice(self, platform: str, user_id: str, voice: str | None) -> VoiceInfo | None:
        """Remember a chat user's voice (checked now: VoiceNotFound lists close matches); None forgets it."""
        return await self.voices.set_user_voice(platform, user_id, voice)

    def subscribe_voice_changes(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` (on the event loop) after a voice is enrolled or removed; returns an unsubscriber."""
        self._voice_listeners.append(callback)
        return lambda: self._voice_listeners.remove(callback) if callback in self._voice_listeners else None

    def _voices_changed(self) -> None:
        for callback in list(self._voice_listeners):
            try:
                callback()
            except Exception:  # a listener's bug must not fail the enrollment that already happened
                log.exception("voice-change listener %r failed", callback)

    # --- synthesis ----------------------------------------------------------------------------------

    async def synthesize(self, request: SpeechRequest) -> SpeechStream:
        """Validate the request and return its audio stream (first sentence first)."""
        return await self.synthesis.synthesize(request)

    async def open_session(self, request: SpeechRequest) -> SpeechSession:
        """A stream of text arriving in pieces (hub.session), spoken sentence by sentence; checks the voice now."""
        await self.get_voice(request.voice)
        return SpeechSession(self, request)

    async def encode(self, chunk: AudioChunk, fmt: str) -> tuple[bytes, str]:
        """`chunk` as one complete file in `fmt` (one of OUTPUT_FORMATS) and its content type."""
        from hub import audio

        check_format(fmt, param="format")
        return await audio.encode_async(fmt, chunk), audio.CONTENT_TYPES[fmt]

    def encode_stream(self, fmt: str, chunks: AsyncIterator[AudioChunk]) -> AsyncIterator[bytes]:
        """`chunks` encoded as one `fmt` file, piece by piece as they arrive (hub.audio.encode_stream)."""
        from hub.audio import encode_stream

        return encode_stream(check_format(fmt, param="format"), chunks)

    @staticmethod
    def content_type(fmt: str) -> str:
        """The Content-Type of an audio file in `fmt` (one of OUTPUT_FORMATS)."""
        from hub.audio import CONTENT_TYPES

        return CONTENT_TYPES[check_format(fmt, param="format")]

    @property
    def max_upload_bytes(self) -> int:
        """The largest reference clip enroll and check take (enroll.max_upload_mb)."""
        return int(self.settings.enroll.max_upload_mb * (1 << 20))

    def remember_clip(self, data: bytes, content_type: str) -> str:
        """Keep a rendered clip for a while; the HTTP API serves it at /v1/audio/clips/<id>."""
        return self.clips.add(data, content_type)

    def get_clip(self, clip_id: str) -> tuple[bytes, str] | None:
        """A remembered clip's bytes and content type, or None once it has expired."""
        clip = self.clips.get(clip_id)
        return None if clip is None else (clip.data, clip.content_type)

    # --- enrollment and checks -------------------------------------------------------------------------

    async def enroll(
        self,
        name: str,
        audio: bytes,
        *,
        transcript: str = "",
        language: str = "",
        engine: str | None = None,
        replace: bool = False,
        consent: Consent | None = None,
    ) -> VoiceInfo:
        """Check a reference clip (any common container) and store it as a cloned voice.

        `consent` is the enroller's confirmation that the speaker consented; without it nothing is stored
        (ConsentRequired, 400, says why and how each surface gives it). It is kept with the voice.

        The clip is trimmed to its best 3-12 s of speech, transcribed when no transcript is given, and
        judged; a rejected clip raises ClipRejected (its report in `extra["quality"]`) and stores nothing.
        """
        return await self.enrollment.enroll(
            name,
            audio,
            transcript=transcript,
            language=language,
            engine=engine,
            replace=replace,
            consent=consent,
        )

    async def check(
        self, audio: bytes, *, against: str | None = None, text: str | None = None
    ) -> QualityReport:
        """The quality report of a clip; `against` a cloned voice adds speaker similarity, `text` the
        ASR round-trip word error rate (the post-synthesis check)."""
        return await self.enrollment.check(audio, against=against, text=text)

    async def fetch_clip(
        self, url: str, *, max_bytes: int | None = None, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """Download a clip for enroll/check through the one guarded fetch (hub.fetch): public addresses or
        `enroll.allowed_hosts` only, at most enroll.max_upload_mb (or `max_bytes`, if smaller). `headers`
        (a platform's token) reach the URL's own host only; a web page instead of audio raises code
        `not_audio`."""
        return await self.enrollment.fetch_clip(url, max_bytes=max_bytes, headers=headers)

    # --- API keys ---------------------------------------------------------------------------------------

    async def keys_in_use(self) -> bool:
        """Whether any API key exists (config or `voxhub keys create`): then every request needs one."""
        return await self.keys.any_keys()

    async def key_scope(self, key: str) -> str | None:
        """The scope of an API key ("speak" or "admin"), or None for no key at all (or a revoked one)."""
        return await self.keys.scope(key)

    # --- health -------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """Engines, cache, library, adapters and analysis workers (hub.health)."""
        return await health.report(self)

    async def metrics_text(self) -> str:
        """The Prometheus metrics, gauges refreshed."""
        await self.health()
        return self.synthesis.metrics.render().decode()
