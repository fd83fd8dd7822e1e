"""Enrollment and check analysis in worker processes of their own, bounded, with a queue limit.

Analysis (decode, VAD, ASR, speaker embedding) is the heaviest thing a client can ask for, and anyone who can
reach MQTT or the HTTP API can ask for a lot of it. It gets `enroll.analysis_workers` worker processes, and
past `enroll.max_queued_analyses` waiting jobs a request is answered at once with Busy (HTTP 503 with
Retry-After, MQTT code `busy`) instead of waiting behind all the others.

The models (faster-whisper, torch for the speaker encoder, onnxruntime for the VAD) load in those workers,
never in the daemon: one check used to grow the daemon from 76 MiB to ~500 MiB for good. A worker that dies
(out of memory, a native fault, kill -9) fails only the clips in flight, with AnalysisCrashed (503), and the
next request starts a fresh one; after `enroll.analysis_idle_ttl_s` without work they exit, like idle
engine workers. Unit-level code (tests/quality) calls `hub.quality.clip.analyze` with a Toolkit in-process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

from hub.errors import EngineUnavailable
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.quality.clip import Analysis, Toolkit

T = TypeVar("T")
log = logging.getLogger(__name__)


class Busy(EngineUnavailable):
    """Too much of this kind of work is already running or queued: retry in a moment."""

    code = "busy"


class AnalysisCrashed(EngineUnavailable):
    """The analysis worker died while it held this clip; the next request starts a new one."""

    code = "analysis_crashed"


class AnalysisPool:
    """`enroll.analysis_workers` worker processes, at most `enroll.max_queued_analyses` more jobs waiting."""

    def __init__(self, settings: Settings) -> None:
        enroll = settings.enroll
        self.workers = enroll.analysis_workers
        self.max_queued = enroll.max_queued_analyses
        self.idle_ttl_s = enroll.analysis_idle_ttl_s
        # Only what analysis reads crosses to the workers (engines and adapters hold unpicklable mappings).
        self._settings = Settings(data_dir=settings.data_dir, asr=settings.asr, quality=settings.quality,
                                  enroll=enroll)  # fmt: skip
        self._executor: ProcessPoolExecutor | None = None
        self._in_flight = 0
        self._idle: asyncio.TimerHandle | None = None

    @property
    def in_flight(self) -> int:
        """Jobs running or waiting."""
        return self._in_flight

    def pids(self) -> list[int]:
        """Process ids of the running analysis workers (none while idle)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(pid for pid, process in processes.items() if process.is_alive())

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in a worker process (fn and its arguments must pickle); Busy at once when
        the queue is full, AnalysisCrashed when the worker dies meanwhile."""
        if self._in_flight >= self.workers + self.max_queued:
            raise Busy(
                f"busy: {self._in_flight} clip analyses are already running or queued "
                f"(enroll.analysis_workers = {self.workers}, enroll.max_queued_analyses = {self.max_queued}); "
                "retry in a moment",
                retry_after=2.0,
            )
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        loop = asyncio.get_running_loop()
        executor = self._ensure()
        try:
            future: Future[T] = executor.submit(fn, *args, **kwargs)
        except BrokenProcessPool:  # it broke after its last job: start over once
            self._discard(executor)
            executor = self._ensure()
            future = executor.submit(fn, *args, **kwargs)
        self._in_flight += 1
        # Counted until the worker is done, even when the caller stops waiting (a cancelled request's
        # analysis still occupies its worker).
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._done))
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._discard(executor)
            log.error(
                "an analysis worker died (out of memory, a crash or a kill); starting a new one on demand"
            )
            raise AnalysisCrashed(
                "the clip analysis worker stopped unexpectedly (out of memory, a crash, or killed) while "
                "analysing this clip; nothing was stored. Retry: the next request starts a new worker",
                retry_after=1.0,
            ) from None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: a forked child would inherit the daemon's threads, sockets and SQLite handles.
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=start_worker, initargs=(self._settings,)
            )
        return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        if self._executor is executor:
            self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def _done(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0 and self.idle_ttl_s > 0 and self._executor is not None:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(self.idle_ttl_s, self._retire)

    def _retire(self) -> None:
        """Idle for enroll.analysis_idle_ttl_s: the workers exit and their models' memory goes back."""
        self._idle = None
        if self._in_flight == 0 and self._executor is not None:
            log.info("analysis workers %s idle for %g s: stopping them", self.pids(), self.idle_ttl_s)
            self._executor.shutdown(wait=False)
            self._executor = None

    def close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # shutting down must not wait for a transcription to finish
            process.terminate()


# --- in the worker process ----------------------------------------------------------------------------

_tools: Toolkit | None = None
"""This worker process's models (each loads on first use)."""


def start_worker(settings: Settings) -> None:
    """Worker initializer: build the Toolkit; the daemon, not Ctrl-C, decides when a worker stops."""
    global _tools
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    from hub.quality.clip import Toolkit

    _tools = Toolkit(settings)


def _exit_with_parent(parent: int) -> None:
    # A daemon killed with SIGKILL cannot stop its workers: they notice they were orphaned and go too,
    # rather than holding ~500 MiB of models for nobody.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def analyze_clip(data: bytes, **kwargs: Any) -> Analysis:
    """`hub.quality.clip.analyze` with this worker's Toolkit (runs in the worker process)."""
    from hub.quality.clip import analyze

    assert _tools is not None, "analyze_clip runs in an analysis worker (start_worker builds its Toolkit)"
    return analyze(_tools, data, **kwargs)
