"""Synthesis: a request becomes sentences in the voice's language, each looked up in the synthesis cache or
sent to the engine's workers, and the audio streams back in order (first sentence first).

    stream = await synthesizer.synthesize(SpeechRequest("Dinner is ready.", voice="mum"))

Everything is validated before `synthesize` returns, so adapters map errors to their own replies before any
audio is sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any

from engines.core.interface import AudioChunk, EngineInfo, VoiceInfo
from engines.core.options import parse_options
from engines.core.protocol import Audio, Done, Prepared
from hub import text as textproc
from hub.errors import EngineUnavailable, InvalidRequest, StorageError, VoiceNotFound, VoxhubError
from hub.library import VoiceLibrary, VoiceRecord
from hub.metrics import Metrics
from hub.rules import check_engine, check_speed, check_text
from hub.scheduler import Job, Priority
from hub.settings import Settings
from hub.speech import SpeechRequest, SpeechStream
from hub.voices import VoiceDirectory, voice_language
from hub.workers import EnginePool

log = logging.getLogger("voxhub.hub")
PROMPT_MEMO_SIZE = 8


class Synthesizer:
    """Turns requests into audio streams over the engine pools, the synthesis cache and prepared prompts."""

    def __init__(
        self,
        settings: Settings,
        library: VoiceLibrary,
        pools: Mapping[str, EnginePool],
        voices: VoiceDirectory,
    ) -> None:
        self.settings = settings
        self.library = library
        self.pools = pools
        self.voices = voices
        self.metrics = Metrics()
        self.storage_error: str | None = None
        """Why the last write to the library failed (disk full, read-only), until a write succeeds again."""
        self._prompt_memo: OrderedDict[tuple[Any, ...], tuple[bytes, str]] = OrderedDict()
        """Recently used prompts (megabytes for torch engines), so a sentence does not read them from SQLite."""

    async def synthesize(self, request: SpeechRequest) -> SpeechStream:
        """Validate the request and return its audio stream (first sentence first)."""
        check_speed(request.speed)
        check_text(request.text, max_chars=self.settings.text.max_chars)
        voice, record = await self.voices.resolve(request.voice)
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
        options = _engine_options(pool.info, request)
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
        keys = [_cache_key(pool.info, voice, stamp, request, sentence) for sentence in sentences]
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
        if wanted:
            check_engine(wanted, list(self.pools))
            if voice.kind == "preset" and voice.engine != wanted:
                raise InvalidRequest(
                    f"voice {voice.name!r} belongs to the {voice.engine} engine, not {wanted}: pick one of "
                    f"{wanted}'s voices or leave the engine to the voice",
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


def _engine_options(info: EngineInfo, request: SpeechRequest) -> dict[str, Any]:
    """`options` checked against the engine's schema (InvalidOption, 400, names the option and the fix)."""
    values = dict(request.options)
    if request.speaker is not None and any(o.name == "speaker" for o in info.options):
        values.setdefault("speaker", request.speaker)  # the top-level field is the speaker option's alias
    return parse_options(info.options, values, info.name)


def _cache_key(info: EngineInfo, voice: VoiceInfo, stamp: str, req: SpeechRequest, sentence: str) -> str:
    # Only options that can change this engine's audio count: ignored ones must not split the cache.
    audible = {o.name for o in info.options if o.audio}
    options = sorted((k, v) for k, v in req.options.items() if k in audible)
    material = [info.name, info.version, voice.name, stamp, req.speaker, round(req.speed, 3), options,
                req.language, sentence]  # fmt: skip
    return hashlib.sha256(json.dumps(material, default=str).encode()).hexdigest()


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
