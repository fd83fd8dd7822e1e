"""HTTP API benchmark on the offline Piper voice: time to first audio, real-time factor, overhead.

Runs, in one process and one go (machines here are noisy, so every number is set beside its anchor):
- the anchor: the Piper engine called directly in this process (onnxruntime + phonemizer, no hub);
- the real daemon (`voxhub serve` on a free port) driven over HTTP: cold (first request after start) and
  warm, 1 and 4 concurrent clients, cache miss (fresh text) and cache hit (repeated text).

    python bench/http_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.timing import http_speech  # noqa: E402
from engines.core.interface import SynthesisRequest  # noqa: E402
from engines.piper import PiperEngine  # noqa: E402
from hub.text import prepare  # noqa: E402
from tests.conftest import start_daemon  # noqa: E402

VOICE = "en_US-joe-medium"
RATE = 22050
TEMPLATE = (
    "The washing machine in the {tag} laundry room has finished its cycle. "
    "Please move the {tag} clothes to the dryer before dinner. "
    "Tomorrow will be sunny in the {tag} garden, with a light breeze from the west."
)
WORDS = ["north", "south", "east", "west", "upper", "lower", "green", "blue", "red", "small", "large", "old"]


def fresh_text(i: int) -> str:
    """A text whose every sentence is new, so nothing can come from the cache."""
    tag = f"{WORDS[i % len(WORDS)]} {WORDS[(i // len(WORDS)) % len(WORDS)]} {WORDS[(i // 144) % len(WORDS)]}"
    return TEMPLATE.format(tag=tag)


def speak(url: str, text: str) -> tuple[float, float, int]:
    """POST one request; (time to first audio byte, total time, PCM bytes)."""
    return http_speech(url, text, "pcm", voice=VOICE)


def concurrent(url: str, texts: list[str]) -> list[tuple[float, float, int]]:
    results: list[tuple[float, float, int]] = [(0.0, 0.0, 0)] * len(texts)

    def run(i: int) -> None:
        results[i] = speak(url, texts[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def direct(engine: PiperEngine, text: str) -> tuple[float, float, int]:
    """The anchor: the same sentences through the engine in this process."""
    started = time.perf_counter()
    first = None
    size = 0
    for sentence in prepare(text, max_chars=4096):
        for chunk in engine.synthesize(SynthesisRequest(text=sentence, voice=VOICE), lambda: False):
            first = first or time.perf_counter() - started
            size += len(chunk.audio)
    return first or 0.0, time.perf_counter() - started, size


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="warm rounds per measurement")
    args = parser.parse_args()
    texts = iter(fresh_text(i) for i in range(10_000))
    report: dict[str, float] = {}

    engine = PiperEngine({"threads": 0})
    started = time.perf_counter()
    cold_direct = direct(engine, next(texts))
    report["direct cold first audio (s)"] = cold_direct[0]
    report["direct cold load+total (s)"] = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        daemon = start_daemon(Path(tmp) / "data")
        report["daemon start to listening, worker warm (s)"] = time.perf_counter() - t0
        try:
            cold = speak(daemon.url, next(texts))
            report["hub cold (first request) first audio (s)"] = cold[0]

            pairs = []
            for _ in range(args.rounds):
                text = next(texts)
                # Interleave anchor and hub runs so drift in machine load hits both alike.
                d = direct(engine, text)
                h = speak(daemon.url, text)
                pairs.append((d, h))
            d_first = med([d[0] for d, _ in pairs])
            h_first = med([h[0] for _, h in pairs])
            d_total = med([d[1] for d, _ in pairs])
            h_total = med([h[1] for _, h in pairs])
            audio_s = med([h[2] / 2 / RATE for _, h in pairs])
            report["direct warm first audio (s)"] = d_first
            report["hub warm miss first audio (s)"] = h_first
            report["direct warm total (s)"] = d_total
            report["hub warm miss total (s)"] = h_total
            report["audio per request (s)"] = audio_s
            report["hub RTF (miss, 1 client)"] = h_total / audio_s
            report["direct RTF"] = d_total / audio_s
            report["hub/direct total ratio (miss)"] = h_total / d_total
            report["hub/direct first-audio ratio (miss)"] = h_first / d_first

            hit_text = next(texts)
            speak(daemon.url, hit_text)
            hits = [speak(daemon.url, hit_text) for _ in range(max(10, args.rounds))]
            report["hub cache hit first audio (ms)"] = 1000 * med([h[0] for h in hits])
            report["hub cache hit total (ms)"] = 1000 * med([h[1] for h in hits])

            four = [
                concurrent(daemon.url, [next(texts) for _ in range(4)])
                for _ in range(max(2, args.rounds // 2))
            ]
            report["hub 4 clients worst first audio (s)"] = med([max(r[0] for r in run) for run in four])
            report["hub 4 clients median first audio (s)"] = med([med([r[0] for r in run]) for run in four])
            report["hub 4 clients wall (s)"] = med([max(r[1] for r in run) for run in four])
            report["hub 4 clients aggregate RTF"] = med(
                [max(r[1] for r in run) / sum(r[2] / 2 / RATE for r in run) for run in four]
            )
        finally:
            daemon.stop()

    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}}  {value:8.3f}")


if __name__ == "__main__":
    main()
