"""One minute of load: 50 streaming HTTP clients and 8 Wyoming clients; memory stays bounded, /health answers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize

from tests.conftest import FAKE_ONLY, Daemon
from tests.integration.test_wyoming import WYOMING, read_until, uri_parts

LOAD_S = 45.0
HTTP_CLIENTS, WYOMING_CLIENTS = 50, 8
MiB = 1 << 20


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def http_client(daemon: Daemon, n: int, until: float, done: list[int], errors: list[str]) -> None:
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        i = 0
        while time.monotonic() < until:
            # Text differs every time: the cache must not answer for the engine.
            body = {"model": "tts-1", "voice": "fake-low", "response_format": "pcm",
                    "input": f"Client {n} asks for request {i}. Then it listens to the end."}  # fmt: skip
            async with session.post(daemon.api + "/audio/speech", json=body) as resp:
                received = 0
                async for chunk in resp.content.iter_any():
                    received += len(chunk)
                if resp.status != 200 or received == 0:
                    errors.append(f"http {n}/{i}: {resp.status}, {received} bytes")
            done[n] += 1
            i += 1


async def wyoming_client(daemon: Daemon, n: int, until: float, done: list[int], errors: list[str]) -> None:
    i = 0
    while time.monotonic() < until:
        async with AsyncTcpClient(*uri_parts(daemon)) as client:
            await client.write_event(Synthesize(f"Speaker {n} announces number {i}.").event())
            reply = await read_until(client, "audio-stop", timeout=60)
        if reply.errors() or not any(e.type == "audio-chunk" for e in reply.events):
            errors.append(f"wyoming {n}/{i}: {reply.errors()}")
        done[n] += 1
        i += 1
        # Back to back, with no pause to play the answer: 8 such clients fill both workers with interactive
        # sentences, and only the scheduler's fair share (hub.scheduler.FAIR_SHARE) lets HTTP requests through.


async def test_a_minute_of_http_and_wyoming_load(daemon_factory: object) -> None:
    env = {
        **FAKE_ONLY,
        **WYOMING,
        "VOXHUB_ENGINES__FAKE__DELAY_S": "0.02",
        "VOXHUB_ENGINES__FAKE__WORKERS": "2",
    }
    daemon = daemon_factory(env=env)  # type: ignore[operator]
    start_rss = rss(daemon.proc.pid)
    until = time.monotonic() + LOAD_S
    http_done, wyoming_done = [0] * HTTP_CLIENTS, [0] * WYOMING_CLIENTS
    errors: list[str] = []
    tasks = [
        asyncio.create_task(http_client(daemon, n, until, http_done, errors)) for n in range(HTTP_CLIENTS)
    ]
    tasks += [asyncio.create_task(wyoming_client(daemon, n, until, wyoming_done, errors))
              for n in range(WYOMING_CLIENTS)]  # fmt: skip
    health_s: list[float] = []
    peak = start_rss
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as probe:
        while time.monotonic() < until:
            started = time.monotonic()
            async with probe.get(daemon.url + "/health") as resp:  # raises after 2 s
                assert resp.status == 200, await resp.text()
                await resp.read()
            health_s.append(time.monotonic() - started)
            peak = max(peak, rss(daemon.proc.pid))
            await asyncio.sleep(1.0)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=90)
    peak = max(peak, rss(daemon.proc.pid))
    print(f"\nHTTP requests {sum(http_done)}, Wyoming requests {sum(wyoming_done)}, /health max "
          f"{max(health_s):.3f} s, RSS {start_rss / MiB:.0f} -> peak {peak / MiB:.0f} MiB")  # fmt: skip
    assert errors == []
    assert min(http_done) >= 1 and min(wyoming_done) >= 1, (http_done, wyoming_done)
    assert len(health_s) >= LOAD_S / 2 and max(health_s) < 2.0
    assert peak < 2.5 * start_rss or peak < 600 * MiB, f"RSS {start_rss / MiB:.0f} -> {peak / MiB:.0f} MiB"
    assert daemon.proc.poll() is None
