"""Sentence-level scheduling shared by every adapter.

Work is queued one sentence at a time, and the next sentence to run is the one with the best
(priority, position in its stream, arrival) key. So with several clients speaking at once, every
client's first sentence is served before anyone's second, and interactive requests (a voice assistant
waiting to answer) overtake queued announcements.
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

    def __init__(self) -> None:
        self._pending: list[Job] = []
        self._changed = asyncio.Condition()

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
            while not self._pending:
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return None
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(self._pending)), remaining)
                except TimeoutError:
                    return None
            job = min(self._pending, key=Job.order)
            self._pending.remove(job)
            return job

    def discard(self, job: Job) -> bool:
        """Drop a job that has not started; False if a worker already took it."""
        try:
            self._pending.remove(job)
        except ValueError:
            return False
        return True
