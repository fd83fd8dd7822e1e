"""One Wyoming client cannot freeze or exhaust the daemon: frames, streamed text, connections and idle time
are bounded (the real daemon, raw sockets where a well-behaved client library would not misbehave)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAKE_ONLY, Daemon, start_daemon
from tests.integration.test_wyoming import WYOMING, uri_parts

IDLE_S = 4.0
LIMITS = {
    "VOXHUB_ADAPTERS__WYOMING__MAX_CONNECTIONS": "5",
    "VOXHUB_ADAPTERS__WYOMING__MAX_CONNECTIONS_PER_CLIENT": "3",
    "VOXHUB_ADAPTERS__WYOMING__IDLE_TIMEOUT_S": str(IDLE_S),
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path_factory.mktemp("wyoming-limits"), env={**FAKE_ONLY, **WYOMING, **LIMITS})
    yield daemon
    daemon.stop()


class Conn:
    """A raw Wyoming connection: JSON header lines out, events in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, daemon: Daemon, source: str = "127.0.0.1") -> Conn:
        host, port = uri_parts(daemon)
        reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0), limit=1 << 24)
        return cls(reader, writer)

    async def send(self, header: dict[str, object], raw: bytes = b"") -> None:
        self.writer.write(json.dumps(header).encode() + b"\n" + raw)
        await self.writer.drain()

    async def event(self, timeout: float = 30) -> dict[str, object] | None:
        """The next event's header (data merged in), None once the server closed the connection."""
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            return None
        header = json.loads(line)
        data = header.get("data") or {}
        if header.get("data_length"):
            data.update(json.loads(await self.reader.readexactly(header["data_length"])))
        if header.get("payload_length"):
            await self.reader.readexactly(header["payload_length"])
        return {"type": header["type"], **data}

    async def until(self, kind: str, timeout: float = 30) -> dict[str, object]:
        while True:
            event = await self.event(timeout)
            assert event is not None, f"closed while waiting for {kind}"
            if event["type"] == kind:
                return event

    async def closed(self, timeout: float = 10) -> bool:
        """Whether the server closes the connection (everything it sends before is skipped)."""
        while (event := await self.event(timeout)) is not None:
            pass
        return event is None

    def close(self) -> None:
        self.writer.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_huge_claimed_frame_closes_the_connection_before_anything_is_buffered(daemon: Daemon) -> None:
    before = rss_kib(daemon.proc.pid)
    conn = await Conn.open(daemon)
    await conn.send({"type": "synthesize", "data_length": 0, "payload_length": 400 << 20})
    conn.writer.write(b"\0" * (1 << 20))  # the start of the payload: discarded, never kept
    error = await conn.event()
    assert error is not None and error["type"] == "error" and error["code"] == "frame_too_large", error
    assert "max_frame_bytes" in str(error["text"])
    assert await conn.closed()
    # A header line with no end: refused at the line limit (1 MiB), never buffered further.
    conn = await Conn.open(daemon)
    conn.writer.write(b"x" * ((1 << 20) + 10))
    error = await conn.event()
    assert error is not None and error["code"] == "frame_too_large", error
    assert await conn.closed()
    assert rss_kib(daemon.proc.pid) - before < 60 * 1024, (before, rss_kib(daemon.proc.pid))
    conn = await Conn.open(daemon)  # the server goes on
    await conn.send({"type": "describe"})
    assert (await conn.until("info"))["type"] == "info"
    conn.close()


def _poll_health(daemon: Daemon, stop: threading.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        with urllib.request.urlopen(f"{daemon.url}/health", timeout=30) as response:
            response.read()
        latencies.append(time.perf_counter() - started)
        stop.wait(0.1)


async def test_a_huge_text_stream_ends_with_an_error_and_http_stays_responsive(daemon: Daemon) -> None:
    stop, latencies = threading.Event(), []
    poller = threading.Thread(target=_poll_health, args=(daemon, stop, latencies), daemon=True)
    poller.start()
    try:
        conn = await Conn.open(daemon)
        await conn.send({"type": "synthesize-start", "data": {}})
        piece = "abcdefghij" * 100  # 1.4 MB with no sentence end and no space: nothing is ever complete
        started = time.perf_counter()
        for _ in range(1400):
            await conn.send({"type": "synthesize-chunk", "data": {"text": piece}})
        await conn.send({"type": "synthesize-stop"})
        events = []
        while (event := await conn.event(60)) is not None and event["type"] != "synthesize-stopped":
            events.append(event)
        elapsed = time.perf_counter() - started
        conn.close()
    finally:
        stop.set()
        poller.join(30)
    errors = [e for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["text_too_long"], events
    assert "max_stream_chars" in str(errors[0]["text"])
    assert event is not None and event["type"] == "synthesize-stopped"
    assert latencies and max(latencies) < 1.0, (latencies, elapsed)


async def _all_served(daemon: Daemon, count: int) -> list[Conn]:
    """`count` connections from 127.0.0.1 that each got `info`: the earlier tests' connections may take the
    server a moment to see closed on a busy machine, so their slots are waited for (at most 20 s)."""
    for _ in range(100):
        conns = [await Conn.open(daemon) for _ in range(count)]
        replies = []
        for conn in conns:
            await conn.send({"type": "describe"})
            replies.append(await conn.event())
        if all(r is not None and r["type"] == "info" for r in replies):
            return conns
        for conn in conns:
            conn.close()
        await asyncio.sleep(0.2)
    raise AssertionError(f"{count} connections were never served at once: {replies}")


async def test_connections_over_the_limits_are_refused_and_the_others_keep_working(daemon: Daemon) -> None:
    mine = await _all_served(daemon, 3)
    extra = await Conn.open(daemon)  # a 4th from the same address
    refusal = await extra.event()
    assert refusal is not None and refusal["code"] == "too_many_connections", refusal
    assert "max_connections_per_client" in str(refusal["text"]) and await extra.closed()
    others = [await Conn.open(daemon, "127.0.0.2") for _ in range(2)]  # another client: 5 in all
    for conn in others:
        await conn.send({"type": "describe"})
        await conn.until("info")
    third = await Conn.open(daemon, "127.0.0.3")
    refusal = await third.event()
    assert refusal is not None and refusal["code"] == "too_many_connections", refusal
    assert "adapters.wyoming.max_connections)" in str(refusal["text"]) and await third.closed()
    await mine[0].send({"type": "synthesize", "data": {"text": "Still served."}})
    assert (await mine[0].until("audio-stop"))["type"] == "audio-stop"
    for conn in [*mine, *others]:
        conn.close()
    for _ in range(50):  # the slots come back once the server has seen the clients go
        await asyncio.sleep(0.1)
        again = await Conn.open(daemon)
        await again.send({"type": "describe"})
        reply = await again.event()
        again.close()
        if reply is not None and reply["type"] == "info":
            break
    else:
        raise AssertionError(f"slots never freed: {reply}")


async def test_an_idle_connection_is_closed_after_the_timeout(daemon: Daemon) -> None:
    conn = await Conn.open(daemon)
    await conn.send({"type": "describe"})
    await conn.until("info")
    started = time.perf_counter()
    error = await conn.event(timeout=IDLE_S + 20)
    waited = time.perf_counter() - started
    assert error is not None and error["code"] == "idle_timeout" and "idle_timeout_s" in str(error["text"])
    assert await conn.closed()
    assert IDLE_S - 0.5 < waited < IDLE_S + 10, waited
