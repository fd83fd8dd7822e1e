"""Long-form jobs: text cut into chunks, synthesized behind every listener, stored chunk by chunk.

A job runs at Priority.BACKGROUND on the same worker pools as interactive speech, with as many chunks in
flight as its engine has workers. Each finished chunk is leveled (EBU R128) and committed at once, so after
a crash (even kill -9) `start` picks every unfinished job up at its first missing chunk. A chunk that fails
is tried `jobs.retries` more times; then the job fails naming the chunk and the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import secrets
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from hub.errors import ConfigError, InvalidRequest, NotFound, VoxhubError
from hub.jobs import audio as jobaudio
from hub.jobs import webhooks
from hub.jobs.store import FINAL, JobStore
from hub.jobs.text import INPUT_FORMATS, Chapter, chunk_chapters, read_input
from hub.rules import check_engine, check_format, check_speed
from hub.scheduler import Priority

if TYPE_CHECKING:
    from engines.core.interface import VoiceInfo
    from hub.library import VoiceLibrary
    from hub.settings import Settings
    from hub.speech import SpeechRequest, SpeechStream
    from hub.workers import EnginePool


class JobsHost(Protocol):
    """What jobs use of the hub (the Hub facade): its settings, library, pools, voices and synthesis."""

    @property
    def settings(self) -> Settings: ...
    @property
    def library(self) -> VoiceLibrary: ...
    @property
    def pools(self) -> Mapping[str, EnginePool]: ...
    async def get_voice(self, name: str | None) -> VoiceInfo: ...
    async def synthesize(self, request: SpeechRequest) -> SpeechStream: ...


log = logging.getLogger("voxhub.jobs")


class JobRunner:
    """Creates, runs, resumes and cancels jobs; publishes progress to SSE listeners."""

    def __init__(self, hub: JobsHost) -> None:
        self.hub = hub
        self.settings = hub.settings.jobs
        self.store = JobStore(hub.library)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._listeners: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}
        self._closing = False

    async def start(self) -> None:
        for job_id in await asyncio.to_thread(self.store.active):
            log.info("resuming job %s", job_id)
            self._launch(job_id)
        for job_id in await asyncio.to_thread(self.store.unannounced):
            row = await asyncio.to_thread(self.store.get, job_id)
            if row is not None:  # the daemon stopped between the end and the webhook: send it now
                self._track(f"{job_id}-webhook", self._notify(job_id, row["spec"]))

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- creating -------------------------------------------------------------------------------------

    async def submit(self, body: dict[str, Any], owner: str = "") -> str:
        """Validate a POST /v1/jobs body, store the job and its chunks, start it; returns its id."""
        for module in ("pyloudnorm", "ebooklib"):
            if importlib.util.find_spec(module) is None:
                raise ConfigError(f"long-form jobs need {module}: pip install 'voxhub[jobs]'")
        chapters = self._chapters(body)
        voice = await self.hub.get_voice(body.get("voice"))
        fmt = check_format(body.get("format") or "m4b", param="format", allowed=jobaudio.JOB_FORMATS)
        speed = check_speed(body.get("speed", 1.0), param="speed")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise InvalidRequest("`options` must be an object of engine options", param="options")
        url, secret = webhooks.read_webhook(body.get("webhook"), self.settings)
        language = voice.languages[0] if voice.languages else "en"  # as Hub.synthesize reads it
        chunks = await asyncio.to_thread(chunk_chapters, chapters, self.settings.max_chunk_chars,
                                         self.hub.settings.text.normalize, language)  # fmt: skip
        engine = body.get("model")
        if engine is not None:
            engine = check_engine(engine, list(self.hub.pools), param="model")
        spec = {"voice": voice.name, "engine": engine, "format": fmt, "speed": speed,
                "options": options, "webhook": url, "webhook_secret": secret,
                "chapters": bool(body.get("chapters", True))}  # fmt: skip
        job_id = "job_" + secrets.token_hex(8)
        await asyncio.to_thread(self.store.create, job_id, spec, [c.title for c in chapters], chunks, owner)
        self._launch(job_id)
        return job_id

    def _chapters(self, body: dict[str, Any]) -> list[Chapter]:
        text, items = body.get("input"), body.get("items")
        if (text is None) == (items is None):
            raise InvalidRequest(
                "send exactly one of `input` (a text) or `items` (a list of texts)", param="input"
            )
        limit = int(self.settings.max_input_mb * (1 << 20))
        if items is not None:
            if not isinstance(items, list) or not items:
                raise InvalidRequest(
                    "`items` must be a non-empty list of texts or {title, input}", param="items"
                )
            chapters = []
            for n, item in enumerate(items):
                title, value = (
                    ("", item) if isinstance(item, str) else (item.get("title", ""), item.get("input"))
                )
                if not isinstance(value, str) or not isinstance(title, str):
                    raise InvalidRequest(f"items[{n}] must be a text or {{title, input}}", param="items")
                chapters.append(Chapter(title, value))
            if sum(len(c.text) for c in chapters) > limit:
                raise InvalidRequest(f"the job's input is over jobs.max_input_mb ({self.settings.max_input_mb} MiB)",
                                     param="items")  # fmt: skip
            return chapters
        fmt = body.get("input_format", "text")
        if not isinstance(text, str) or fmt not in INPUT_FORMATS:
            raise InvalidRequest(f"`input` must be a string and `input_format` one of {', '.join(INPUT_FORMATS)}",
                                 param="input")  # fmt: skip
        if len(text) > limit * (4 / 3 if fmt == "epub" else 1):
            raise InvalidRequest(f"the job's input is over jobs.max_input_mb ({self.settings.max_input_mb} MiB)",
                                 param="input")  # fmt: skip
        return read_input(text, fmt)

    # --- reading --------------------------------------------------------------------------------------

    async def status(self, job_id: str) -> dict[str, Any]:
        row = await asyncio.to_thread(self.store.get, job_id)
        if row is None:
            raise NotFound(f"job {job_id!r} not found: GET /v1/jobs lists the jobs", param="id")
        return _public(row)

    async def list(self) -> list[dict[str, Any]]:
        rows = [
            await asyncio.to_thread(self.store.get, i) for i in await asyncio.to_thread(self.store.recent)
        ]
        return [_public(r) for r in rows if r is not None]

    async def owner(self, job_id: str) -> str:
        row = await asyncio.to_thread(self.store.get, job_id)
        if row is None:
            raise NotFound(f"job {job_id!r} not found: GET /v1/jobs lists the jobs", param="id")
        return str(row["owner"] or "")

    def listen(self, job_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners.setdefault(job_id, []).append(queue)
        return queue

    def unlisten(self, job_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._listeners[job_id].remove(queue)

    async def audio(self, job_id: str, fmt: str | None = None) -> tuple[bytes, str, str]:
        """The finished job's file (in its own format, or `fmt`), its content type and its format."""
        if fmt is not None:
            check_format(fmt, param="format", allowed=jobaudio.JOB_FORMATS)
        status = await self.status(job_id)
        if status["state"] != "done":
            raise JobNotDone(f"job {job_id} is {status['state']}, not done: wait for state done "
                             "(GET /v1/jobs/{id} or its /events)", param="id")  # fmt: skip
        row = await asyncio.to_thread(self.store.get, job_id)
        assert row is not None
        pieces = await asyncio.to_thread(self.store.pieces, job_id)
        pcm, rate, marks = jobaudio.join(
            pieces, row["chapters"], self.settings.pause_ms, self.settings.chapter_pause_ms
        )
        fmt = fmt or row["spec"]["format"]
        data, content_type = await asyncio.to_thread(jobaudio.render, fmt, pcm, rate, marks)
        return data, content_type, fmt

    # --- running --------------------------------------------------------------------------------------

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job; a job that has ended is deleted with its audio instead."""
        status = await self.status(job_id)
        if status["state"] in FINAL:
            await asyncio.to_thread(self.store.delete, job_id)
            return {**status, "deleted": True}
        task = self._tasks.get(job_id)
        await asyncio.to_thread(self.store.set_state, job_id, "cancelled", "cancelled by request")
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._publish(job_id)
        return await self.status(job_id)

    def _launch(self, job_id: str) -> None:
        self._track(job_id, self._run(job_id))

    def _track(self, key: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=key)
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    async def _run(self, job_id: str) -> None:
        row = await asyncio.to_thread(self.store.get, job_id)
        if row is None:
            return
        spec = row["spec"]
        await asyncio.to_thread(self.store.set_state, job_id, "running")
        pending = await asyncio.to_thread(self.store.pending, job_id)
        pool = self.hub.pools.get(spec["engine"] or (await self.hub.get_voice(spec["voice"])).engine)
        window = asyncio.Semaphore(pool.settings.workers if pool is not None else 1)
        try:
            async with asyncio.TaskGroup() as group:
                for idx, text in pending:
                    await window.acquire()
                    group.create_task(self._chunk(job_id, spec, idx, text, window))
        except* ChunkFailed as failures:
            reason = str(failures.exceptions[0])
            await asyncio.to_thread(self.store.set_state, job_id, "failed", reason)
            log.error("job %s failed: %s", job_id, reason)
        except* Exception as failures:  # a bug must end the job visibly, not leave it "running" forever
            log.error("job %s failed", job_id, exc_info=failures.exceptions[0])
            reason = f"internal error: {failures.exceptions[0]!r}"
            await asyncio.to_thread(self.store.set_state, job_id, "failed", reason)
        else:
            await asyncio.to_thread(self.store.set_state, job_id, "done")
            log.info("job %s done", job_id)
        await self._publish(job_id)
        await self._notify(job_id, spec)

    async def _chunk(
        self, job_id: str, spec: dict[str, Any], idx: int, text: str, window: asyncio.Semaphore
    ) -> None:
        from hub.speech import SpeechRequest

        try:
            request = SpeechRequest(text, voice=spec["voice"], speed=spec["speed"], engine=spec["engine"],
                                    priority=Priority.BACKGROUND, options=spec["options"], cache=False)  # fmt: skip
            error = ""
            for _attempt in range(self.settings.retries + 1):
                started = time.perf_counter()
                try:
                    chunk = await (await self.hub.synthesize(request)).collect()
                except VoxhubError as exc:
                    error = exc.message
                    await asyncio.to_thread(self.store.fail_chunk, job_id, idx, error)
                    log.warning("job %s chunk %d failed: %s", job_id, idx, error)
                    continue
                pcm = await asyncio.to_thread(
                    jobaudio.level, chunk.audio, chunk.rate, self.settings.loudness_lufs
                )
                synth_s = time.perf_counter() - started
                if await asyncio.to_thread(self.store.finish_chunk, job_id, idx, pcm, chunk.rate, synth_s):
                    log.info("job %s chunk %d done", job_id, idx)
                await self._publish(job_id)
                return
            raise ChunkFailed(
                f"chunk {idx} ({text[:40]!r}...) failed {self.settings.retries + 1} times: {error}"
            )
        finally:
            window.release()

    async def _publish(self, job_id: str) -> None:
        listeners = self._listeners.get(job_id)
        if not listeners:
            return
        status = await self.status(job_id)
        for queue in listeners:
            queue.put_nowait(status)

    async def _notify(self, job_id: str, spec: dict[str, Any]) -> None:
        url = spec.get("webhook")
        if not url:
            return
        status = await self.status(job_id)
        event = {"type": f"job.{status['state']}", "timestamp": time.time(), "data": status}
        secret = spec.get("webhook_secret") or self.settings.webhook_secret
        delivered = await webhooks.deliver(url, event, secret, self.settings)
        await asyncio.to_thread(self.store.set_webhook_state, job_id, "delivered" if delivered else "failed")


class JobNotDone(InvalidRequest):
    status = 409
    code = "job_not_done"


class ChunkFailed(Exception):
    """A chunk failed on every try."""


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it."""
    done, total = row["done"], row["total"]
    eta = None
    if row["state"] in ("queued", "running") and row["done_chars"]:
        per_char = row["synth_s"] / row["done_chars"]
        eta = round(per_char * (row["total_chars"] - row["done_chars"]), 1)
    spec = row["spec"]
    return {
        "id": row["id"], "object": "job", "state": row["state"], "voice": spec["voice"], "format": spec["format"],
        "chunks_done": done, "chunks_total": total, "progress": round(done / total, 4) if total else 0.0,
        "audio_seconds": round(row["audio_s"], 3), "eta_s": eta, "error": row["error"],
        "chapters": row["chapters"], "created_at": row["created_at"], "started_at": row["started_at"],
        "finished_at": row["finished_at"], "webhook": row["webhook_state"],
    }  # fmt: skip
