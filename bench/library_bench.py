"""Listing cost as the voice library grows: `GET /v1/voices` and the Wyoming `describe` at 100/300/1000 voices.

    python bench/library_bench.py [--sizes 100 300 1000] [--rounds 20]

The real daemon (`voxhub serve`, the fake engine only, the Wyoming adapter on a free port) serves a library
that is filled between sizes straight through `VoiceLibrary` (no analysis): each voice has a 10 s 24 kHz
reference clip, an embedding and a quality report, like an enrolled one. The anchor is `GET /v1/models`
on the same daemon in the same rounds (an HTTP round trip that reads no library): the listing's own cost is
the difference, and its ratio to the anchor should not grow with the library.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hub.library import VoiceLibrary, VoiceRecord  # noqa: E402
from hub.settings import load_settings  # noqa: E402
from tests.conftest import FAKE_ONLY, start_daemon  # noqa: E402

CLIP = b"\0\0\0\0" * 24000 * 10  # 10 s of float32 at 24 kHz, as enrollment stores it
QUALITY = {"snr_db": 31.5, "speech_s": 9.2, "clipping": 0.0, "verdict": "good", "notes": ["clean clip"] * 3}


def fill(data_dir: Path, size: int) -> None:
    """Grow the daemon's library to `size` cloned voices (the daemon keeps running: the library is shared)."""
    with VoiceLibrary.open(load_settings(env={"VOXHUB_DATA_DIR": str(data_dir)}).db_path) as library:
        for i in range(len(library.voice_names()), size):
            record = VoiceRecord(f"voice{i:05d}", language="en", transcript="a clip of about ten seconds " * 4,
                                 reference=CLIP, reference_rate=24000, embedding=b"\1" * 1024,
                                 quality=QUALITY, metadata={"description": f"bench voice {i}"})  # fmt: skip
            library.add_voice(record)


async def timed_get(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(url) as response:
        assert response.status == 200, await response.text()
        await response.read()
    return time.perf_counter() - started


async def describe(host: str, port: int, expected: int) -> float:
    """One Wyoming `describe` → `info` round trip on a fresh connection, as Home Assistant does it."""
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info

    started = time.perf_counter()
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Describe().event())
        while (event := await client.read_event()) is not None and not Info.is_type(event.type):
            pass
    elapsed = time.perf_counter() - started
    assert event is not None and len(Info.from_event(event).tts[0].voices) >= expected
    return elapsed


async def measure(url: str, wyoming: str, size: int, rounds: int) -> dict[str, float]:
    host, port = wyoming.removeprefix("tcp://").rsplit(":", 1)
    times: dict[str, list[float]] = {"anchor": [], "voices": [], "describe": []}
    async with aiohttp.ClientSession() as session:
        await timed_get(session, f"{url}/v1/voices")  # warm-up
        for _ in range(rounds):
            times["anchor"].append(await timed_get(session, f"{url}/v1/models"))
            times["voices"].append(await timed_get(session, f"{url}/v1/voices"))
            times["describe"].append(await describe(host, int(port), size))
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds per size (medians reported)")
    args = parser.parse_args()
    env = {**FAKE_ONLY, "VOXHUB_ADAPTERS__WYOMING__ENABLED": "true",
           "VOXHUB_ADAPTERS__WYOMING__URI": "tcp://127.0.0.1:0"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        daemon = start_daemon(data_dir, env=env)
        try:
            print(
                "| voices | GET /v1/models (anchor) | GET /v1/voices | Wyoming describe | voices / anchor |"
            )
            print("|---:|---:|---:|---:|---:|")
            for size in sorted(args.sizes):
                fill(data_dir, size)
                ms = asyncio.run(measure(daemon.url, daemon.adapter_urls["wyoming"], size, args.rounds))
                ratio = ms["voices"] / ms["anchor"]
                print(f"| {size} | {ms['anchor']:.1f} ms | {ms['voices']:.1f} ms | {ms['describe']:.1f} ms "
                      f"| {ratio:.1f}x |")  # fmt: skip
        finally:
            daemon.stop()


if __name__ == "__main__":
    main()
