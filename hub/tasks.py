"""Background work an adapter starts and must cancel when it stops: one place for the bookkeeping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any


class TaskSet:
    """Tasks started with `spawn`, logged when they fail, cancelled together by `cancel_all`."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._tasks: set[asyncio.Future[Any]] = set()

    def spawn(self, work: Awaitable[Any]) -> asyncio.Future[Any]:
        """Run `work` in the background; a failure is logged (the adapter must survive any one task)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s: a handler failed", self._what, exc_info=task.exception())

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait until they are done."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)
