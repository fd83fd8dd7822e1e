"""Sentence-level scheduling shared by every adapter.

Work is queued one sentence at a time, and the next sentence to run is the one with the best
(priority, position in its stream, arrival) key. So with several clients speaking at once, every
client's first sentence is served before anyone's second, and interactive requests (a voice assistant
waiting to answer) overtake queued announcements.

Two refinements keep everyone moving:
- a fair share: after FAIR_SHARE interactive sentences in a row while a NORMAL or ANNOUNCEMENT sentence waits,
  the best of those goes next, so a stream of voice-assistant requests cannot starve HTTP clients entirely
  (interactive requests still get FAIR_SHARE turns out of FAIR_SHARE + 1);
- BACKGROUND (long-form jobs) never gets a fair share: a job's chunk runs only when nothing else waits,
  on at most `background_limit` workers at once (with several workers one stays free for the next listener
  instead of making it wait for a chunk to finish), and none starts while a listener's sentence is running.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
from dataclasses import dataclass, field
from typing import Any

from engines.core.protocol import Message


class Priority(enum.IntEnum):
    INTERACTIVE = 0
    NORMAL = 1
    ANNOUNCEMENT = 2
    BACKGROUND = 3
    """Long-form job chunks (hub.jobs): behind everything a listener is waiting for."""


FAIR_SHARE = 4
"""Interactive sentences served in a row before a waiting NORMAL/ANNOUNCEMENT sentence gets a turn."""


_arrivals = itertools.count()


@dataclass(eq=False)
class Job:
    """One request to a worker (a sentence to synthesize, or a voice to prepare)."""

    kind: str
    data: dict[str, Any]
    payload: bytes = b""
    priority: Priority = Priority.NORMAL
    index: int = 0
    """Position within its stream: sentence 0 is the first audio a listener waits for."""
    stream_arrival: int = field(default_factory=lambda: next(_arrivals))
    id: str = ""
    results: asyncio.Queue[Message | BaseException] = field(default_factory=asyncio.Queue)
    cancelled: bool = False
    finished: bool = False

    def order(self) -> tuple[int, int, int]:
        return (int(self.priority), self.index, self.stream_arrival)


class Scheduler:
    """A priority queue of jobs that worker loops take from."""

    def __init__(self, background_limit: int = 1) -> None:
        self._pending: list[Job] = []
        self._changed = asyncio.Condition()
        self._interactive_streak = 0
        self.background_limit = max(1, background_limit)
        self.background_running = 0
        self.foreground_running = 0

    def __len__(self) -> int:
        return len(self._pending)

    async def submit(self, *jobs: Job) -> None:
        async with self._changed:
            self._pending.extend(jobs)
            self._changed.notify(len(jobs))

    async def take(self, timeout: float | None = None) -> Job | None:
        """The best pending job, or None when none arrives within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        async with self._changed:
            # `discard` may empty the queue between the wake-up and this task running again: wait again.
            while not self._takeable():
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return None
                try:
                    await asyncio.wait_for(self._changed.wait_for(self._takeable), remaining)
                except TimeoutError:
                    return None
            job = self._pick()
            self._pending.remove(job)
            if job.priority == Priority.BACKGROUND:
                self.background_running += 1
            else:
                self.foreground_running += 1
            return job

    async def finished(self, job: Job) -> None:
        """A worker is done with `job` (taken by `take`): background work may go on."""
        async with self._changed:
            if job.priority == Priority.BACKGROUND:
                self.background_running -= 1
            else:
                self.foreground_running -= 1
            self._changed.notify_all()

    def _background_allowed(self) -> bool:
        # While a listener's sentence is being synthesized no new chunk starts: it would take CPU from it.
        return self.foreground_running == 0 and self.background_running < self.background_limit

    def _takeable(self) -> bool:
        if self._background_allowed():
            return bool(self._pending)
        return any(job.priority != Priority.BACKGROUND for job in self._pending)

    def _pick(self) -> Job:
        candidates = self._pending
        if not self._background_allowed():
            candidates = [job for job in self._pending if job.priority != Priority.BACKGROUND]
        best = min(candidates, key=Job.order)
        if best.priority != Priority.INTERACTIVE:
            self._interactive_streak = 0
            return best
        waiting = [j for j in self._pending if Priority.INTERACTIVE < j.priority < Priority.BACKGROUND]
        if waiting and self._interactive_streak >= FAIR_SHARE:
            self._interactive_streak = 0
            return min(waiting, key=Job.order)
        self._interactive_streak += 1 if waiting else 0
        return best

    def discard(self, job: Job) -> bool:
        """Drop a job that has not started; False if a worker already took it."""
        try:
            self._pending.remove(job)
        except ValueError:
            return False
        return True
