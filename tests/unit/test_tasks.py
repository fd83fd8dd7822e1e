"""TaskSet: adapters' background work is logged when it fails and cancelled when the adapter stops."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.api import TaskSet


async def test_failures_are_logged_and_cancel_all_stops_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet(logging.getLogger("voxhub.test"), "test")
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    async def broken() -> None:
        raise RuntimeError("boom")

    slow = tasks.spawn(forever())
    tasks.spawn(broken())
    await started.wait()
    await asyncio.sleep(0)
    assert len(tasks) == 1  # the failed one is gone, and it was logged with its traceback
    assert "test: a handler failed" in caplog.text and "boom" in caplog.text
    await tasks.cancel_all()
    assert slow.cancelled() and len(tasks) == 0
