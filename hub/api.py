"""The Hub facade: the only thing adapters import.

    async with Hub.open(settings) as hub:
        stream = await hub.synthesize(SpeechRequest("Dinner is ready.", voice="mum"))
        async for chunk in stream:
            ...

`synthesize` validates everything (text, voice, engine) before it returns, so adapters can map errors
to their own status codes before any audio is sent; the stream then yields audio sentence by sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import hashlib
import json
import logging
import shutil
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.core.interface import AudioChunk, EngineInfo, VoiceInfo
from engines.core.options import parse_options
from engines.core.protocol import Audio, Done, Prepared
from hub import __version__
from hub import text as textproc
from hub.analysis import AnalysisPool, analyze_clip
from hub.clips import ClipStore
from hub.enroll import rejection
from hub.errors import (
    ConfigError,
    ConsentRequired,
    EngineUnavailable,
    InvalidRequest,
    StorageError,
    VoiceExists,
    VoiceNotFound,
    VoxhubError,
)
from hub.keys import KeyStore
from hub.library import VoiceLibrary, VoiceRecord, validate_voice_name
from hub.metrics import Metrics
from hub.quality import QualityReport, headline_numbers
from hub.rules import OUTPUT_FORMATS, VOICE_NAME, check_format, check_speed, check_text, check_voice_name
from hub.scheduler import Job, Priority
from hub.session import SpeechPart, SpeechSession, conform_chunk
from hub.settings import Settings, parse_section
from hub.tasks import TaskSet
from hub.workers import EnginePool

log = logging.getLogger("voxhub.hub")
VERSION = __version__

# What adapters may use, besides the Hub itself: they import nothing else from voxhub.
__all__ = [
    "AUDIO_FORMATS",
    "OUTPUT_FORMATS",
    "VERSION",
    "VOICE_NAME",
    "AudioChunk",
    "ConfigError",
    "Consent",
    "HttpRoute",
    "Hub",
    "Priority",
    "QualityReport",
    "SpeechPart",
    "SpeechRequest",
    "SpeechSession",
    "SpeechStream",
    "TaskSet",
    "VoiceInfo",
    "VoxhubError",
    "check_format",
    "check_speed",
    "check_text",
    "check_voice_name",
    "conform_chunk",
    "headline_numbers",
    "parse_section",
]

OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
# The formats `Hub.encode` writes (hub.audio.FORMATS, repeated so importing the facade stays light).
AUDIO_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
MIN_SPEED, MAX_SPEED = 0.25, 4.0
MIN_FREE_BYTES = 1 << 20
"""Less free space than this in the data directory makes /health say "degraded"."""
REFERENCE_RATE = 24000
PROMPT_MEMO_SIZE = 8


@dataclass(frozen=True)
class SpeechRequest:
    """What a client asks for, in the hub's terms."""

    text: str
    voice: str | None = None
    """Voice name, an OpenAI alias (alloy, ...), or None for the default voice."""
    speed: float = 1.0
    speaker: str | None = None
    engine: str | None = None
    """Force an engine; None (or an OpenAI model name) = the voice's own engine."""
    priority: Priority = Priority.NORMAL
    options: Mapping[str, Any] = field(default_factory=dict)
    first_index: int = 0
    """Position of this text's first sentence in a longer stream (see `Hub.open_session`): later sentences of
    a stream queue behind other clients' first ones."""
    language: str = ""
    """The language to speak; empty = the voice's own (a cloned voice's enrolled language)."""
    cache: bool = True
    """False: neither read nor fill the synthesis cache (long-form jobs, whose sentences rarely repeat)."""


CONSENT_STATEMENT = "the enroller confirms that the speaker in the clip consented to their voice being cloned"
CONSENT_HOW = ("`voxhub voices add NAME CLIP --consent` on the command line, `\"consent\": true` in HTTP (JSON, or "
               "`consent=true` as a multipart field) and in MQTT enroll payloads, `enroll NAME consent` in Slack, "
               "`consent: True` in Discord's `/voice enroll`, the consent box in the web UI")  # fmt: skip


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


@dataclass(frozen=True)
class HttpRoute:
    """A route an adapter serves on the daemon's HTTP server (e.g. Slack's POST /slack/events)."""

    method: str
    path: str
    handler: Callable[[Any], Any]
    """An aiohttp handler: `async (request) -> response`."""
    public: bool = False
    """True: no API key is asked for (the adapter authenticates the request itself, e.g. by signature)."""


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


class Hub:
    """Voices, synthesis, enrollment and health, over the engine pools and the voice library."""

    def __init__(self, settings: Settings, library: VoiceLibrary, pools: dict[str, EnginePool]) -> None:
        self.settings = settings
        self.library = library
        self.pools = pools
        self.metrics = Metrics()
        self.started_at = time.time()
        self.clips = ClipStore()
        self.http_url: str | None = None
        """Base URL of the HTTP API once it listens (set by the HTTP server), e.g. http://127.0.0.1:8700."""
        self._voice_listeners: list[Callable[[], None]] = []
        self.adapters: dict[str, Any] = {}
        """Started adapters by name (see `register_adapter`), for the health report."""
        self.http_routes: list[HttpRoute] = []
        """Routes adapters mount on the daemon's HTTP server (see `add_http_route`)."""
        self.storage_error: str | None = None
        """Why the last write to the library failed (disk full, read-only), until a write succeeds again."""
        self.keys = KeyStore(library, settings.http.api_keys)
        """API keys (config and `voxhub keys create`), checked by the HTTP API."""
        self.analysis = AnalysisPool(settings)
        """Enroll/check analysis (and its models) runs in worker processes here, bounded; never in the daemon."""
        self._prompt_memo: OrderedDict[tuple[Any, ...], tuple[bytes, str]] = OrderedDict()
        """Recently used prompts (megabytes for torch engines), so a sentence does not read them from SQLite."""
        from hub.jobs import JobRunner

        self.jobs = JobRunner(self)
        """Long-form jobs (POST /v1/jobs): persisted chunk by chunk, resumed by `open`."""

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
        await asyncio.gather(*(pool.close() for pool in self.pools.values()), return_exceptions=True)
        await asyncio.to_thread(self.library.close)

    # --- voices -----------------------------------------------------------------------------------

    def engines(self) -> list[EngineInfo]:
        return [pool.info for pool in self.pools.values() if pool.info is not None]

    def _presets(self) -> dict[str, VoiceInfo]:
        return {voice.name: voice for info in self.engines() for voice in info.voices}

    async def list_voices(self) -> list[VoiceInfo]:
        """Every voice: presets of running engines, then cloned voices from the library."""
        # One query, no per-voice lookups: listings (HTTP, Wyoming describe, MQTT select) grow linearly.
        infos = await asyncio.to_thread(self.library.list_voice_infos)
        cloned = [self._cloned_voice(info) for info in infos]
        return [*self._presets().values(), *cloned]

    def _cloned_engine(self, engine: str | None) -> str | None:
        if engine and engine in self.pools:
            return engine
        return next((info.name for info in self.engines() if info.cloning), None)

    def _cloned_info(self, record: VoiceRecord) -> VoiceInfo:
        return self._cloned_voice(record.to_info())

    def _cloned_voice(self, info: VoiceInfo) -> VoiceInfo:
        """A stored voice with the engine that will speak it (its own if enabled, else the cloning one)."""
        engine = self._cloned_engine(info.engine) or info.engine
        return info if engine == info.engine else dataclasses.replace(info, engine=engine)

    async def get_voice(self, name: str | None) -> VoiceInfo:
        """Resolve a name (or alias, or None for the default) to a voice; VoiceNotFound lists close matches."""
        return (await self._resolve(name))[0]

    async def _resolve(self, name: str | None) -> tuple[VoiceInfo, VoiceRecord | None]:
        """The voice, and for a cloned one its library record, read once for the caller to use."""
        wanted = name or self.settings.voices.default
        wanted = self.settings.voices.aliases.get(wanted, wanted)
        presets = self._presets()
        if wanted in presets:
            return presets[wanted], None
        record = await asyncio.to_thread(self.library.get_voice, wanted)
        if record is not None:
            return self._cloned_info(record), record
        known = [*presets, *await asyncio.to_thread(self.library.voice_names)]
        close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise VoiceNotFound(
            f"voice {wanted!r} not found; {hint}GET /v1/voices (or `voxhub voices list`) lists the "
            f"{len(known)} available voices",
            param="voice",
            close_matches=close,
        )

    # --- synthesis ----------------------------------------------------------------------------------

    async def synthesize(self, request: SpeechRequest) -> SpeechStream:
        """Validate the request and return its audio stream (first sentence first)."""
        if not MIN_SPEED <= request.speed <= MAX_SPEED:
            raise InvalidRequest(
                f"speed {request.speed} is out of range: use a value from {MIN_SPEED} to {MAX_SPEED}",
                param="speed",
            )
        textproc.check_text(request.text, max_chars=self.settings.text.max_chars)
        voice, record = await self._resolve(request.voice)
        # Normalized once the voice is known: its language decides how numbers, units and dates are read.
        sentences = textproc.prepare(
            request.text,
            max_chars=self.settings.text.max_chars,
            normalize_text=self.settings.text.normalize,
            language=request.language or voice_language(voice),
            # only what a listener waits for first is cut early: a stream's later pieces and job chunks stay whole
            cut_first=request.first_index == 0 and request.priority != Priority.BACKGROUND,
        )
        engine = self._pick_engine(request.engine, voice)
        pool = self.pools[engine]
        if pool.info is None:
            raise EngineUnavailable(f"the {engine} engine is not running ({pool.last_error}); retry later")
        options = self._engine_options(pool.info, request)
        language = (
            request.language
            or (record.language if record is not None else "")
            or next(iter(voice.languages), "")
        )
        request = dataclasses.replace(request, options=options, language=language)
        prompt, prompt_key = b"", ""
        if voice.kind == "cloned":
            prompt, prompt_key = await self._prompt(pool, voice.name, record)
        # A cloned voice's audio changes when it is re-enrolled: its timestamp is part of the cache key.
        stamp = str(record.updated_at) if record is not None else ""
        keys = [self._cache_key(pool.info, voice, stamp, request, sentence) for sentence in sentences]
        cached: list[AudioChunk | None] = [None] * len(keys)
        if request.cache:
            cached = await asyncio.to_thread(self._cache_lookup, keys)
        reference = None
        if record is not None:
            reference = {"name": record.name, "rate": record.reference_rate, "transcript": record.transcript,
                         "language": record.language}  # fmt: skip
        chunks = self._stream(pool, request, voice, (prompt, prompt_key), sentences, keys, cached, reference)
        return SpeechStream(voice, engine, sentences, chunks, sum(1 for c in cached if c is not None))

    def _pick_engine(self, wanted: str | None, voice: VoiceInfo) -> str:
        if wanted and wanted not in OPENAI_MODELS:
            if wanted not in self.pools:
                raise InvalidRequest(
                    f"model {wanted!r} is not an enabled engine: use one of "
                    f"{', '.join([*self.pools, *OPENAI_MODELS])} (GET /v1/models)",
                    param="model",
                )
            if voice.kind == "preset" and voice.engine != wanted:
                raise InvalidRequest(
                    f"voice {voice.name!r} belongs to the {voice.engine} engine, not {wanted}: pick one of "
                    f"{wanted}'s voices or leave `model` as tts-1",
                    param="voice",
                )
            return wanted
        if voice.engine in self.pools:
            return voice.engine
        raise InvalidRequest(
            f"voice {voice.name!r} is a cloned voice but no cloning engine is enabled: enable one "
            "(e.g. engines.zipvoice) in the config",
            param="voice",
        )

    @staticmethod
    def _engine_options(info: EngineInfo, request: SpeechRequest) -> dict[str, Any]:
        """`options` checked against the engine's schema (InvalidOption, 400, names the option and the fix)."""
        values = dict(request.options)
        if request.speaker is not None and any(o.name == "speaker" for o in info.options):
            values.setdefault("speaker", request.speaker)  # the top-level field is the speaker option's alias
        return parse_options(info.options, values, info.name)

    def _cache_key(
        self, info: EngineInfo, voice: VoiceInfo, stamp: str, req: SpeechRequest, sentence: str
    ) -> str:
        # Only options that can change this engine's audio count: ignored ones must not split the cache.
        audible = {o.name for o in info.options if o.audio}
        options = sorted((k, v) for k, v in req.options.items() if k in audible)
        material = [info.name, info.version, voice.name, stamp, req.speaker, round(req.speed, 3), options,
                    req.language, sentence]  # fmt: skip
        return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()

    def _cache_lookup(self, keys: list[str]) -> list[AudioChunk | None]:
        if not self.settings.cache.enabled:
            return [None] * len(keys)
        found: list[AudioChunk | None] = []
        for key in keys:
            hit = self.library.cache_get(key)
            found.append(None if hit is None else AudioChunk(hit.rate, hit.width, hit.channels, hit.audio))
        return found

    async def _stream(
        self,
        pool: EnginePool,
        request: SpeechRequest,
        voice: VoiceInfo,
        prompted: tuple[bytes, str],
        sentences: list[str],
        keys: list[str],
        cached: list[AudioChunk | None],
        reference: dict[str, Any] | None = None,
    ) -> AsyncIterator[AudioChunk]:
        """The sentences' audio in order: cached ones from the library, the rest from the pool's workers.
        `prompted` is a cloned voice's (prompt, key): workers get the bytes once, then the key alone."""
        prompt, prompt_key = prompted
        started = time.perf_counter()
        jobs: dict[int, Job] = {}
        for index, sentence in enumerate(sentences):
            if cached[index] is None:
                data = {"text": sentence, "voice": voice.name, "speed": request.speed, "speaker": request.speaker,
                        "language": request.language, "options": dict(request.options), "reference": reference,
                        "prompt_key": prompt_key}  # fmt: skip
                jobs[index] = Job("synthesize", data, prompt, request.priority, request.first_index + index)
        shared_arrival = min((job.stream_arrival for job in jobs.values()), default=0)
        for job in jobs.values():
            job.stream_arrival = shared_arrival
        await pool.submit(*jobs.values())
        first = True
        outcome = "error"
        try:
            for index in range(len(sentences)):
                hit = cached[index]
                if hit is not None:
                    self.metrics.sentences.labels(pool.name, "cache").inc()
                    parts = [hit]
                else:
                    parts = []
                    async for chunk in _job_audio(jobs[index]):
                        if first:
                            self.metrics.first_audio.labels(pool.name).observe(time.perf_counter() - started)
                            first = False
                        parts.append(chunk)
                        yield chunk
                    self.metrics.sentences.labels(pool.name, "engine").inc()
                    self.metrics.audio_seconds.labels(pool.name).inc(sum(p.seconds for p in parts))
                    if request.cache:
                        await self._remember(keys[index], parts)
                    continue
                if first:
                    self.metrics.first_audio.labels(pool.name).observe(time.perf_counter() - started)
                    first = False
                yield hit
                self.metrics.audio_seconds.labels(pool.name).inc(hit.seconds)
            outcome = "ok"
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            raise
        finally:
            self.metrics.requests.labels(pool.name, outcome).inc()
            self.metrics.worker_restarts.labels(pool.name).set(pool.restarts)
            for job in jobs.values():
                if not job.finished:
                    await pool.cancel(job)

    async def _remember(self, key: str, parts: list[AudioChunk]) -> None:
        """Store a finished sentence; awaited so an identical request right after is a hit."""
        if not parts or not self.settings.cache.enabled:
            return
        first = parts[0]
        audio = b"".join(p.audio for p in parts)
        max_bytes = int(self.settings.cache.max_mb * (1 << 20))
        try:
            await asyncio.to_thread(
                self.library.cache_put,
                key,
                first.rate,
                first.width,
                first.channels,
                audio,
                max_bytes=max_bytes,
            )
        except StorageError as exc:  # the listener still gets every sentence; only the cache misses out
            self._storage_failed(exc)
        else:
            self.storage_error = None

    def _storage_failed(self, exc: StorageError) -> None:
        if self.storage_error is None:
            log.warning("%s (synthesis goes on without the cache)", exc.message)
        self.storage_error = exc.message

    async def _prompt(self, pool: EnginePool, voice: str, current: VoiceRecord | None) -> tuple[bytes, str]:
        """The engine's prompt for a cloned voice and its key: from memory, the library, or prepared once."""
        assert pool.info is not None
        info = pool.info
        # Keyed by the voice's timestamp too: a re-enrolled voice never gets its old prompt.
        memo_key = (voice, info.name, info.version, current.updated_at if current else None)
        if memo_key in self._prompt_memo:
            self._prompt_memo.move_to_end(memo_key)
            return self._prompt_memo[memo_key]
        prompt = await asyncio.to_thread(self.library.get_prompt, voice, info.name, info.version)
        if prompt is None:
            prompt = await self._prepare(pool, voice)
        found = (prompt, hashlib.sha256(prompt).hexdigest()[:32])
        self._prompt_memo[memo_key] = found
        while len(self._prompt_memo) > PROMPT_MEMO_SIZE:
            self._prompt_memo.popitem(last=False)
        return found

    async def _prepare(self, pool: EnginePool, voice: str) -> bytes:
        """Have the engine prepare a cloned voice's prompt and store it in the library."""
        assert pool.info is not None
        info = pool.info
        record = await asyncio.to_thread(self.library.get_voice, voice)
        if record is None:
            raise VoiceNotFound(f"voice {voice!r} was removed", param="voice")
        data = {"reference": {"name": record.name, "rate": record.reference_rate,
                              "transcript": record.transcript, "language": record.language}}  # fmt: skip
        job = Job("prepare", data, record.reference, Priority.INTERACTIVE)
        await pool.submit(job)
        item = await job.results.get()
        if isinstance(item, BaseException):
            raise item
        if not isinstance(item, Prepared):
            raise EngineUnavailable(f"the {info.name} worker answered a prepare with {item.TYPE!r}; retry")
        try:
            await asyncio.to_thread(self.library.put_prompt, voice, info.name, info.version, item.payload)
        except StorageError as exc:  # prepared again next time
            self._storage_failed(exc)
        return item.payload

    async def open_session(self, request: SpeechRequest) -> SpeechSession:
        """A stream of text arriving in pieces (hub.session), spoken sentence by sentence; checks the voice now."""
        await self.get_voice(request.voice)
        return SpeechSession(self, request)

    # --- library ------------------------------------------------------------------------------------

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
        validate_voice_name(name)
        if consent is None:
            raise ConsentRequired(
                f"voice {name!r} was not enrolled: cloning a voice needs its owner's permission, so confirm that the "
                f"speaker in the clip consented to it — {CONSENT_HOW}",
                param="consent",
            )
        if name in self._presets() or name in self.settings.voices.aliases:
            raise VoiceExists(
                f"{name!r} is the name of a preset voice or alias: choose another name", param="name"
            )
        if engine is not None and engine not in self.pools:
            raise InvalidRequest(
                f"engine {engine!r} is not enabled: use one of {', '.join(self.pools)}", param="engine"
            )
        records = await asyncio.to_thread(self.library.list_voices)
        if not replace and any(r.name == name for r in records):
            raise VoiceExists(f"voice {name!r} already exists: pass replace to overwrite it", param="name")
        if not self.settings.enroll.analyze:
            return await self._store_unchecked(name, audio, transcript, language, engine, replace, consent)
        existing = [(r.name, np.frombuffer(r.embedding, dtype="<f4")) for r in records
                    if r.embedding and r.name != name]  # fmt: skip
        result = await self.analysis.run(
            analyze_clip, audio, transcript=transcript.strip(), language=language, existing=existing
        )
        if result.report.verdict == "reject":
            raise rejection(result.report)
        now = time.time()
        assert result.embedding is not None
        metadata = {
            "duration_s": round(len(result.prompt) / REFERENCE_RATE, 3),
            "source_duration_s": round(result.duration_s, 3),
            "transcript_source": "given" if transcript.strip() else "asr",
        }
        record = VoiceRecord(
            name=name,
            language=result.language,
            transcript=result.transcript,
            reference=np.asarray(result.prompt, dtype="<f4").tobytes(),
            reference_rate=REFERENCE_RATE,
            engine=engine,
            embedding=np.asarray(result.embedding, dtype="<f4").tobytes(),
            quality=result.report.to_dict(),
            metadata=metadata,
            created_at=now,
            updated_at=now,
            consent=consent.record(),
        )
        await asyncio.to_thread(self.library.add_voice, record, replace=replace)
        self._voices_changed()
        return self._cloned_info(record)

    async def _store_unchecked(
        self,
        name: str,
        audio: bytes,
        transcript: str,
        language: str,
        engine: str | None,
        replace: bool,
        consent: Consent,
    ) -> VoiceInfo:
        """enroll.analyze = false: the decoded clip as it is, with what the caller said about it."""
        from hub.audio import decode_audio

        samples, rate = await self.analysis.run(
            decode_audio, audio, target_rate=REFERENCE_RATE, limits=self.settings.enroll.decode_limits
        )
        now = time.time()
        record = VoiceRecord(name=name, language=language, transcript=transcript,
                             reference=np.asarray(samples, dtype="<f4").tobytes(), reference_rate=rate,
                             engine=engine, metadata={"duration_s": round(len(samples) / rate, 3)},
                             created_at=now, updated_at=now, consent=consent.record())  # fmt: skip
        await asyncio.to_thread(self.library.add_voice, record, replace=replace)
        self._voices_changed()
        return self._cloned_info(record)

    async def check(
        self, audio: bytes, *, against: str | None = None, text: str | None = None
    ) -> QualityReport:
        """The quality report of a clip; `against` a cloned voice adds speaker similarity, `text` the
        ASR round-trip word error rate (the post-synthesis check)."""
        embedding = None
        if against is not None:
            voice, record = await self._resolve(against)
            if record is None or not record.embedding:
                raise InvalidRequest(
                    f"voice {voice.name!r} has no speaker embedding (preset voices have none): compare "
                    "against a cloned voice",
                    param="against",
                )
            embedding = np.frombuffer(record.embedding, dtype="<f4")
        result = await self.analysis.run(analyze_clip, audio, text=text, against=embedding)
        if against is not None:
            details = {**result.report.details, "against": against}
            return dataclasses.replace(result.report, details=details)
        return result.report

    async def fetch_clip(
        self, url: str, *, max_bytes: int | None = None, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """Download a clip for enroll/check through the one guarded fetch (hub.fetch): public addresses or
        `enroll.allowed_hosts` only, at most enroll.max_upload_mb (or `max_bytes`, if smaller). `headers`
        (a platform's token) reach the URL's own host only; a web page instead of audio raises code
        `not_audio`."""
        from hub.fetch import allow_list, fetch_audio

        enroll = self.settings.enroll
        limit = int(enroll.max_upload_mb * (1 << 20))
        return await fetch_audio(
            url,
            max_bytes=limit if max_bytes is None else min(limit, max_bytes),
            timeout_s=enroll.url_timeout_s,
            allow_private=enroll.allow_private_urls,
            allowed_hosts=allow_list(enroll.allowed_hosts),
            headers=headers,
        )

    async def voice_details(self, name: str) -> dict[str, Any]:
        """A voice as `list_voices` shows it, plus (for cloned voices) transcript, quality report and metadata."""
        voice, record = await self._resolve(name)
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
        voice, record = await self._resolve(name)
        if record is None:
            raise InvalidRequest(
                f"{voice.name!r} is a preset voice: only cloned voices have a reference clip", param="name"
            )
        samples = np.frombuffer(record.reference, dtype="<f4")
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        return AudioChunk(record.reference_rate, 2, 1, pcm)

    async def delete_voice(self, name: str) -> None:
        if name in self._presets():
            raise InvalidRequest(
                f"{name!r} is a preset voice of an engine and cannot be removed", param="name"
            )
        if not await asyncio.to_thread(self.library.delete_voice, name):
            await self.get_voice(name)  # raises VoiceNotFound with suggestions
            raise VoiceNotFound(f"voice {name!r} not found", param="name")
        self._voices_changed()

    async def user_voice(self, platform: str, user_id: str) -> str | None:
        """The voice a chat user chose on `platform` (e.g. "discord"), if it still exists; else None."""
        name = await asyncio.to_thread(self.library.get_user_voice, platform, user_id)
        if name is None:
            return None
        try:
            return (await self.get_voice(name)).name
        except VoiceNotFound:
            return None

    async def set_user_voice(self, platform: str, user_id: str, voice: str | None) -> VoiceInfo | None:
        """Remember a chat user's voice (checked now: VoiceNotFound lists close matches); None forgets it."""
        info = None if voice is None else await self.get_voice(voice)
        stored = None if info is None else info.name
        await asyncio.to_thread(self.library.set_user_voice, platform, user_id, stored)
        return info

    def add_http_route(
        self, method: str, path: str, handler: Callable[[Any], Any], *, public: bool = False
    ) -> None:
        """Serve `handler` at `path` on the daemon's HTTP server; call from an adapter's `start()` (adapters
        start before the server). `public` routes skip the API key: the adapter must authenticate them."""
        if any(r.method == method and r.path == path for r in self.http_routes):
            raise ConfigError(f"two adapters want to serve {method} {path}: enable only one of them")
        self.http_routes.append(HttpRoute(method.upper(), path, handler, public))

    def register_adapter(self, name: str, adapter: Any) -> None:
        """List a started adapter in `health()`; its optional `status()` returns {"state", "reason"?}."""
        self.adapters[name] = adapter

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

    # --- rendered clips -----------------------------------------------------------------------------

    async def encode(self, chunk: AudioChunk, fmt: str) -> tuple[bytes, str]:
        """`chunk` as one complete file in `fmt` (one of AUDIO_FORMATS) and its content type."""
        from hub import audio

        if fmt not in AUDIO_FORMATS:
            raise InvalidRequest(
                f"audio format {fmt!r} is not supported: use one of {', '.join(AUDIO_FORMATS)}",
                param="format",
            )
        # Compressed formats cost real CPU: keep them off the event loop.
        offload = fmt not in ("wav", "pcm")
        data = await asyncio.to_thread(audio.encode, fmt, chunk) if offload else audio.encode(fmt, chunk)
        return data, audio.CONTENT_TYPES[fmt]

    def remember_clip(self, data: bytes, content_type: str) -> str:
        """Keep a rendered clip for a while; the HTTP API serves it at /v1/audio/clips/<id>."""
        return self.clips.add(data, content_type)

    def get_clip(self, clip_id: str) -> tuple[bytes, str] | None:
        """A remembered clip's bytes and content type, or None once it has expired."""
        clip = self.clips.get(clip_id)
        return None if clip is None else (clip.data, clip.content_type)

    # --- health -------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        entries, size = await asyncio.to_thread(self.library.cache_stats)
        self.metrics.cache_entries.set(entries)
        self.metrics.cache_bytes.set(size)
        engines = {name: pool.health() for name, pool in self.pools.items()}
        for name, pool in self.pools.items():
            self.metrics.queued.labels(name).set(len(pool.scheduler))
        serving = any(pool.info is not None for pool in self.pools.values())
        problem = self.storage_error or await asyncio.to_thread(self._storage_problem)
        return {
            "status": "ok" if serving and problem is None else "degraded",
            "serving": serving,
            "uptime_s": round(time.time() - self.started_at, 1),
            "engines": engines,
            "cache": {"entries": entries, "bytes": size},
            "library": {"path": str(self.library.path), "writable": problem is None, "error": problem},
            "adapters": {name: _adapter_status(adapter) for name, adapter in self.adapters.items()},
            "analysis": {"workers": self.analysis.pids(), "in_flight": self.analysis.in_flight},
        }

    def _storage_problem(self) -> str | None:
        """Why the data directory cannot take writes now (nearly no space left), or None."""
        directory = self.library.path.parent
        try:
            free = shutil.disk_usage(directory).free
        except OSError as exc:
            return f"cannot check the data directory {directory}: {exc}"
        if free < MIN_FREE_BYTES:
            return (f"the disk holding the data directory {directory} is full ({free} bytes free): free space "
                    "there, or move the data directory (VOXHUB_DATA_DIR / data_dir)")  # fmt: skip
        return None


def _adapter_status(adapter: Any) -> dict[str, Any]:
    status = getattr(adapter, "status", None)
    if not callable(status):
        return {"state": "running"}
    try:
        return dict(status())
    except Exception as exc:  # a status bug must not take /health down with it
        return {"state": "unknown", "reason": f"status() failed: {exc}"}


async def _job_audio(job: Job) -> AsyncIterator[AudioChunk]:
    """The audio events of one job, until it is done; errors raise."""
    while True:
        item = await job.results.get()
        if isinstance(item, BaseException):
            if isinstance(item, asyncio.CancelledError):
                return
            if isinstance(item, VoxhubError):
                raise item
            raise EngineUnavailable(f"engine failed: {item}") from item
        if isinstance(item, Audio):
            yield AudioChunk(item.rate, item.width, item.channels, item.payload)
        elif isinstance(item, Done):
            return


def voice_language(voice: VoiceInfo) -> str:
    """The language a voice's text is normalized in: its first declared one, else English."""
    return voice.languages[0] if voice.languages else "en"
