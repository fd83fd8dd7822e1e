"""Per-request overhead of the hub, apart from synthesis: Wyoming first audio on the fake engine.

The fake engine answers a short sentence with a tone at once, so what is measured is the hub's own path:
the Wyoming event in, validation, voice lookup, scheduling, the pipe to the worker and back, the audio
events out. Cache off, so every request goes to the worker.

    python bench/overhead_bench.py [--requests 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import FAKE_ONLY, start_daemon  # noqa: E402


async def first_audio(host: str, port: int, text: str) -> float:
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize, SynthesizeVoice

    started = time.perf_counter()
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice("fake-low")).event())
        while True:
            event = await client.read_event()
            assert event is not None and event.type != "error"
            if event.type == "audio-chunk":
                return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="requests, one after another")
    args = parser.parse_args()
    env = {**FAKE_ONLY, "VOXHUB_CACHE__ENABLED": "false", "VOXHUB_ADAPTERS__WYOMING__ENABLED": "true",
           "VOXHUB_ADAPTERS__WYOMING__URI": "tcp://127.0.0.1:0"}  # fmt: skip
    daemon = start_daemon(Path(tempfile.mkdtemp(prefix="overhead-bench-")) / "data", env=env)
    host, port = daemon.adapter_urls["wyoming"].removeprefix("tcp://").rsplit(":", 1)
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    try:
        times = [
            asyncio.run(first_audio(host, int(port), f"Hello number {n}.")) for n in range(args.requests)
        ]
    finally:
        daemon.stop()
    print(f"first audio over Wyoming, fake engine: median {statistics.median(times) * 1000:.1f} ms, "
          f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
