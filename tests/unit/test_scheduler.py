"""The fair-scheduling rule: every stream's first sentence before anyone's second; interactive first."""

from __future__ import annotations

import asyncio

from hub.scheduler import FAIR_SHARE, Job, Priority, Scheduler


def _stream(
    name: str, sentences: int, priority: Priority = Priority.NORMAL, first_index: int = 0
) -> list[Job]:
    """Jobs as Hub.synthesize makes them: one per sentence, numbered within the stream, one arrival."""
    jobs = [Job("synthesize", {"who": f"{name}{first_index + i}"}, priority=priority, index=first_index + i)
            for i in range(sentences)]  # fmt: skip
    for job in jobs[1:]:
        job.stream_arrival = jobs[0].stream_arrival
    return jobs


async def _drain(scheduler: Scheduler) -> list[str]:
    order = []
    while len(scheduler):
        job = await scheduler.take(timeout=1)
        assert job is not None
        order.append(job.data["who"])
        await scheduler.finished(job)  # as a worker loop does once the sentence is synthesized
    return order


async def test_first_sentences_of_every_client_come_before_any_second() -> None:
    scheduler = Scheduler()
    for name in "ABCD":
        await scheduler.submit(*_stream(name, 3))
    assert await _drain(scheduler) == ["A0", "B0", "C0", "D0", "A1", "B1", "C1", "D1", "A2", "B2", "C2", "D2"]


async def test_a_streams_later_sentence_waits_behind_a_newer_clients_first() -> None:
    # A streams sentence by sentence: its second sentence arrives before B's first, but numbered 1.
    scheduler = Scheduler()
    await scheduler.submit(*_stream("A", 1))
    first = await scheduler.take(timeout=1)
    assert first is not None and first.data["who"] == "A0"
    await scheduler.submit(*_stream("A", 1, first_index=1))
    await scheduler.submit(*_stream("B", 1))
    await scheduler.submit(*_stream("A", 1, first_index=2))
    await scheduler.submit(*_stream("C", 2))
    assert await _drain(scheduler) == ["B0", "C0", "A1", "C1", "A2"]


async def test_interactive_requests_overtake_queued_announcements() -> None:
    scheduler = Scheduler()
    await scheduler.submit(*_stream("news", 3, Priority.ANNOUNCEMENT))
    await scheduler.submit(*_stream("chat", 2, Priority.NORMAL))
    await scheduler.submit(*_stream("assist", 2, Priority.INTERACTIVE, first_index=4))
    assert await _drain(scheduler) == ["assist4", "assist5", "chat0", "chat1", "news0", "news1", "news2"]


async def test_equal_jobs_are_served_in_arrival_order_and_discarded_ones_never() -> None:
    scheduler = Scheduler()
    jobs = [_stream(str(i), 1)[0] for i in range(5)]
    await scheduler.submit(*reversed(jobs))
    assert scheduler.discard(jobs[2])
    assert not scheduler.discard(jobs[2])
    assert await _drain(scheduler) == ["00", "10", "30", "40"]
    assert await scheduler.take(timeout=0.01) is None


async def test_a_job_discarded_while_a_worker_wakes_up_does_not_kill_the_worker() -> None:
    # A client that hangs up cancels its queued sentence while a worker loop is being woken for it.
    for yields in range(8):
        scheduler = Scheduler()
        taker = asyncio.create_task(scheduler.take(timeout=0.2))
        await asyncio.sleep(0)
        job = _stream("gone", 1)[0]
        await scheduler.submit(job)
        for _ in range(yields):
            await asyncio.sleep(0)
        scheduler.discard(job)
        assert await taker in (None, job), yields


async def test_a_stream_of_interactive_requests_leaves_normal_ones_a_fair_share() -> None:
    # The load test's finding: Wyoming (INTERACTIVE) requests arriving without pause starved HTTP (NORMAL).
    scheduler = Scheduler()
    await scheduler.submit(*_stream("http", 2, Priority.NORMAL))
    await scheduler.submit(*_stream("job", 1, Priority.BACKGROUND))
    for i in range(12):
        await scheduler.submit(*_stream(f"ha{i}-", 1, Priority.INTERACTIVE))
    order = await _drain(scheduler)
    assert order.index("http0") == FAIR_SHARE  # after FAIR_SHARE interactive ones, not after all twelve
    assert order.index("http1") == 2 * FAIR_SHARE + 1
    assert order[-1] == "job0"  # a background chunk never gets a share: it waits for everyone


async def test_background_job_chunks_wait_behind_every_other_priority() -> None:
    scheduler = Scheduler(background_limit=2)
    await scheduler.submit(*_stream("book", 2, Priority.BACKGROUND))
    await scheduler.submit(*_stream("news", 1, Priority.ANNOUNCEMENT, first_index=9))
    await scheduler.submit(*_stream("chat", 1, Priority.NORMAL, first_index=5))
    assert await _drain(scheduler) == ["chat5", "news9", "book0", "book1"]


async def test_background_chunks_leave_workers_free_up_to_their_limit() -> None:
    # Two workers, one lent to jobs: a second chunk waits even with a worker idle, a listener does not, and
    # no chunk starts while a listener's sentence runs.
    scheduler = Scheduler(background_limit=1)
    await scheduler.submit(*_stream("book", 2, Priority.BACKGROUND))
    first = await scheduler.take(timeout=1)
    assert first is not None and first.data["who"] == "book0"
    assert await scheduler.take(timeout=0.05) is None
    await scheduler.submit(*_stream("assist", 1, Priority.INTERACTIVE))
    taken = await scheduler.take(timeout=1)
    assert taken is not None and taken.data["who"] == "assist0"
    waiter = asyncio.create_task(scheduler.take(timeout=2))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await scheduler.finished(first)
    await asyncio.sleep(0.05)
    assert not waiter.done()  # the listener's sentence still runs: no new chunk may take CPU from it
    await scheduler.finished(taken)
    second = await waiter
    assert second is not None and second.data["who"] == "book1"


def test_several_workers_share_the_cores_through_a_threads_hint() -> None:
    import os

    from hub.settings import EngineSettings
    from hub.worker_process import WorkerProcess

    cores = os.cpu_count() or 1
    assert (
        "threads" not in WorkerProcess(EngineSettings("piper", workers=1)).config()
    )  # the engine's own choice
    assert WorkerProcess(EngineSettings("piper", workers=2)).config()["threads"] == max(1, cores // 2)
    chosen = EngineSettings("piper", workers=4, options={"threads": 3, "voice": "x"})
    assert WorkerProcess(chosen).config() == {"threads": 3, "voice": "x"}  # a configured value wins
