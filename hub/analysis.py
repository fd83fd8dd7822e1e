"""Enrollment and check analysis on its own few threads, with a queue limit.

Analysis (decode, VAD, ASR, speaker embedding) is the heaviest thing a client can ask for, and anyone who can
reach MQTT or the HTTP API can ask for a lot of it. Run on asyncio's default executor it starved the library
reads that every speech request and `/health` need; here it gets `enroll.analysis_workers` threads of its
own, and past `enroll.max_queued_analyses` waiting jobs a request is answered at once with Busy (HTTP 503 with
Retry-After, MQTT code `busy`) instead of waiting behind all the others.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from hub.errors import EngineUnavailable

T = TypeVar("T")


class Busy(EngineUnavailable):
    """Too much of this kind of work is already running or queued: retry in a moment."""

    code = "busy"


class AnalysisPool:
    """A bounded executor: `workers` threads, at most `max_queued` more jobs waiting."""

    def __init__(self, workers: int, max_queued: int) -> None:
        self.workers = workers
        self.max_queued = max_queued
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voxhub-analysis")
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Jobs running or waiting."""
        return self._in_flight

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on one of the pool's threads; Busy at once when the queue is full."""
        if self._in_flight >= self.workers + self.max_queued:
            raise Busy(
                f"busy: {self._in_flight} clip analyses are already running or queued "
                f"(enroll.analysis_workers = {self.workers}, enroll.max_queued_analyses = {self.max_queued}); "
                "retry in a moment",
                retry_after=2.0,
            )
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(fn, *args, **kwargs)
        )
        self._in_flight += 1
        # Counted until the thread is done, even when the caller stops waiting (a cancelled request's
        # analysis still occupies its thread).
        future.add_done_callback(self._done)
        return await future

    def _done(self, _: object) -> None:
        self._in_flight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
