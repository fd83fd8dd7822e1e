"""Engine worker pools, owned by the hub.

Each engine gets a pool of worker processes (hub.worker_process) fed from one scheduler. A worker that dies
fails only the job it was running, with EngineUnavailable (HTTP 503, retry), and is started again; an idle
worker exits after the engine's TTL and starts again on demand.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from engines.core.interface import EngineInfo
from hub.errors import EngineUnavailable, VoxhubError
from hub.scheduler import Job, Priority, Scheduler
from hub.settings import EngineSettings
from hub.worker_process import WorkerDied, WorkerProcess

log = logging.getLogger("voxhub.workers")


class EnginePool:
    """The workers of one engine, fed from one scheduler."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.scheduler = Scheduler()
        """Background (job) chunks may use all workers but `reserved_workers` (set by the hub; at least one)."""
        self.workers: list[WorkerProcess | None] = [None] * settings.workers
        self.info: EngineInfo | None = None
        self.state = "stopped"
        self.restarts = 0
        self.last_error = ""
        self.warmup_voice: str | None = None
        """A preset voice to speak once whenever a worker starts, so the first real request is fast."""
        self.data_dir: Path | None = None
        """The daemon's data dir, passed to workers as VOXHUB_DATA_DIR."""
        self._loops: list[asyncio.Task[None]] = []
        self.pause_background = False
        """Stop workers running job chunks while a listener's sentence is synthesized (set by the hub)."""
        self._paused: set[WorkerProcess] = set()

    def _hold_background(self) -> None:
        """A listener's sentence starts: workers in the middle of a job chunk give it every core."""
        if not self.pause_background:
            return
        for worker in self.workers:
            job = worker.job if worker is not None else None
            if worker is not None and job is not None and job.priority == Priority.BACKGROUND:
                worker.pause(True)
                self._paused.add(worker)

    def _release_background(self) -> None:
        if self.scheduler.foreground_running:
            return
        for worker in self._paused:
            worker.pause(False)
        self._paused.clear()

    async def start(self) -> None:
        """Start the first worker (to learn the engine's voices) and the scheduling loops."""
        self.state = "starting"
        try:
            self.workers[0] = await self._spawn()
        except VoxhubError as exc:
            self.state, self.last_error = "failed", exc.message
            log.error("%s", exc.message)
        self._loops = [
            asyncio.create_task(self._loop(slot), name=f"{self.name}-{slot}")
            for slot in range(len(self.workers))
        ]

    async def close(self) -> None:
        for worker in self._paused:
            worker.pause(False)
        self._paused.clear()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await asyncio.gather(*(w.stop() for w in self.workers if w is not None), return_exceptions=True)
        self.workers = [None] * len(self.workers)
        self.state = "stopped"

    async def submit(self, *jobs: Job) -> None:
        for job in jobs:
            job.id = job.id or uuid.uuid4().hex[:12]
        await self.scheduler.submit(*jobs)

    async def cancel(self, job: Job) -> None:
        """Stop a job: drop it if queued, tell its worker if running."""
        job.cancelled = True
        if self.scheduler.discard(job):
            return
        for worker in self.workers:
            if worker is not None:
                await worker.cancel(job)

    def health(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "version": self.info.version if self.info else None,
            "restarts": self.restarts,
            "queued": len(self.scheduler),
            "last_error": self.last_error or None,
            "workers": [
                {
                    "pid": w.pid if w is not None and w.alive else None,
                    "python": w.python if w is not None and w.alive else None,
                    "engine_only": not {"hub", "adapters"} & set(w.modules)
                    if w is not None and w.alive
                    else None,
                    "state": ("busy" if w.job else "ready") if w is not None and w.alive else "stopped",
                }
                for w in self.workers
            ],
        }

    async def _spawn(self) -> WorkerProcess:
        worker = WorkerProcess(self.settings, self.data_dir)
        started = time.perf_counter()
        try:
            self.info = await worker.start()
        except WorkerDied as exc:
            raise EngineUnavailable(
                f"the {self.name} worker exited while starting ({exc}); see the daemon's log"
            ) from None
        except OSError as exc:
            raise EngineUnavailable(f"cannot start the {self.name} worker: {exc}") from None
        await self._warm_up(worker)
        self.state, self.last_error = "ready", ""
        log.info("%s worker started (pid %s) in %.2f s", self.name, worker.pid, time.perf_counter() - started)
        return worker

    async def _warm_up(self, worker: WorkerProcess) -> None:
        """Load the model and phonemizer now rather than in the first listener's request."""
        assert self.info is not None
        if self.warmup_voice not in {voice.name for voice in self.info.voices}:
            return
        job = Job("synthesize", {"text": "Ready.", "voice": self.warmup_voice}, id="warmup")
        try:
            await worker.run(job)
        except WorkerDied as exc:
            raise EngineUnavailable(f"the {self.name} worker crashed while warming up ({exc})") from None

    async def _take_while_alive(self, worker: WorkerProcess, ttl: float | None) -> tuple[Job | None, bool]:
        """(the next job or None after `ttl` idle seconds, False), or (None, True) once the worker dies."""
        assert worker.proc is not None
        take = asyncio.ensure_future(self.scheduler.take(timeout=ttl))
        died = asyncio.ensure_future(worker.proc.wait())
        try:
            await asyncio.wait({take, died}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            died.cancel()
            if not take.done():
                take.cancel()
        try:
            job = await take  # a job taken at the moment of death is still served, by a new worker
        except asyncio.CancelledError:
            if not died.done() or died.cancelled():
                raise  # the pool itself is closing
            return None, True
        return job, False

    async def _replace_idle(self, slot: int, worker: WorkerProcess) -> None:
        """An idle worker died (OOM killer, a stray signal): start another before anyone asks for one."""
        self.restarts += 1
        self.workers[slot] = None
        self.last_error = f"idle worker exited (exit code {worker.proc.returncode if worker.proc else '?'})"
        log.error("%s worker %s died while idle (%s); restarting it", self.name, worker.pid, self.last_error)
        try:
            self.workers[slot] = await self._spawn()
        except EngineUnavailable as err:
            self.state, self.last_error = "failed", err.message

    async def _loop(self, slot: int) -> None:
        ttl = self.settings.idle_ttl_s or None
        while True:
            worker = self.workers[slot]
            if worker is not None and worker.alive:
                job, died = await self._take_while_alive(worker, ttl)
                if died:
                    await self._replace_idle(slot, worker)
                    continue
            else:
                job = await self.scheduler.take(timeout=ttl if worker is not None else None)
            if job is None:
                if worker is not None:
                    log.info("%s worker %s idle for %g s: stopping it", self.name, worker.pid, ttl)
                    self.workers[slot] = None
                    await worker.stop()
                    if not any(self.workers):
                        self.state = "idle"
                continue
            if job.cancelled:
                job.results.put_nowait(asyncio.CancelledError())
                await self.scheduler.finished(job)
                continue
            if worker is not None and worker.gone:  # died while idle, just before this job came
                await self._replace_idle(slot, worker)
                worker = self.workers[slot]
            if job.priority != Priority.BACKGROUND:
                self._hold_background()
            try:
                if worker is None or not worker.alive:
                    worker = self.workers[slot] = await self._spawn()
                await worker.run(job)
                if (
                    worker.must_restart
                ):  # the engine said its state is broken: a fresh worker for the next job
                    self.restarts += 1
                    self.workers[slot] = None
                    await worker.stop()
            except EngineUnavailable as exc:
                self.state, self.last_error = "failed", exc.message
                job.results.put_nowait(exc)
                await asyncio.sleep(0.5)  # don't spin on an engine that cannot start
            except WorkerDied as exc:
                self.restarts += 1
                self.workers[slot] = None
                self.last_error = f"worker crashed ({exc})"
                log.error("%s worker crashed (%s) during a request; restarting it", self.name, exc)
                job.results.put_nowait(
                    EngineUnavailable(
                        f"the {self.name} engine's worker crashed ({exc}) while handling this request; "
                        "it is being restarted: retry the request",
                        retry_after=1.0,
                    )
                )
                try:
                    self.workers[slot] = await self._spawn()
                except EngineUnavailable as err:
                    self.state, self.last_error = "failed", err.message
            finally:
                job.finished = True
                await self.scheduler.finished(job)
                self._release_background()
