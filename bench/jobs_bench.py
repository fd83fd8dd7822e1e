"""Long-form jobs benchmark on the offline Piper voice: a job with 1 and 2 workers against one plain request.

In one run, on the same text (about 12 minutes of speech; `--quick`: about 2):
- the anchor: one plain `POST /v1/audio/speech` for the whole text (response_format pcm), one Piper worker;
- a job (`POST /v1/jobs`, format wav) on a daemon with one Piper worker, and on one with two (with
  jobs.reserved_workers = 0, so the job may use both): wall time from submit to done, and RTF;
- first audio of an interactive request (Wyoming `synthesize`) while a job runs on a 2-worker daemon (this time
  with the default jobs.reserved_workers = 1), against the same request on the idle daemon just before and
  just after the job.
Load averages are printed, since the machines are shared.

    python bench/jobs_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import Daemon, start_daemon  # noqa: E402

VOICE = "en_US-joe-medium"
CHARS_PER_SECOND = 15.0  # en_US-joe-medium reads about this fast
SUBJECTS = ["The old lighthouse", "A quiet village", "The northern river", "Her grandfather", "The night train",
            "A small bakery", "The mountain road", "Their garden", "The city library", "An autumn storm"]  # fmt: skip
VERBS = [
    "watched over",
    "waited for",
    "remembered",
    "welcomed",
    "outlasted",
    "surprised",
    "followed",
    "changed",
]
OBJECTS = ["the fishing boats", "every traveler", "the long winter", "a crowd of children", "the morning fog",
           "the distant hills", "an empty harbor", "the first snow"]  # fmt: skip


def story(seconds: float) -> str:
    """Varied sentences (never repeated, so no cache helps) for about `seconds` of speech."""
    out, n = [], 0
    while sum(map(len, out)) < seconds * CHARS_PER_SECOND:
        s, v, o = SUBJECTS[n % 10], VERBS[(n // 10) % 8], OBJECTS[(n // 80) % 8]
        out.append(f"{s} {v} {o}, and on day {n + 1} it was still there.")
        n += 1
    return " ".join(out)


def post(daemon: Daemon, path: str, body: dict[str, Any]) -> tuple[Any, bytes]:
    req = urllib.request.Request(
        daemon.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=3600) as response:
        return response.headers, response.read()


def get_json(daemon: Daemon, path: str) -> Any:
    with urllib.request.urlopen(daemon.url + path, timeout=60) as response:
        return json.loads(response.read())


def run_job(daemon: Daemon, text: str) -> tuple[str, float]:
    started = time.perf_counter()
    _, raw = post(daemon, "/v1/jobs", {"input": text, "voice": VOICE, "format": "wav"})
    job_id = json.loads(raw)["id"]
    while (job := get_json(daemon, f"/v1/jobs/{job_id}"))["state"] in ("queued", "running"):
        time.sleep(0.2)
    assert job["state"] == "done", job
    return job_id, time.perf_counter() - started


async def first_audio(daemon: Daemon, text: str) -> float:
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize, SynthesizeVoice

    host, port = daemon.adapter_urls["wyoming"].removeprefix("tcp://").rsplit(":", 1)
    started = time.perf_counter()
    async with AsyncTcpClient(host, int(port)) as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(VOICE)).event())
        while True:
            event = await client.read_event()
            assert event is not None and event.type != "error"
            if event.type == "audio-chunk":
                return time.perf_counter() - started


def daemon_for(tmp: Path, name: str, workers: int, reserved: int) -> Daemon:
    env = {"VOXHUB_ENGINES__PIPER__WORKERS": str(workers), "VOXHUB_JOBS__RESERVED_WORKERS": str(reserved),
           "VOXHUB_TEXT__MAX_CHARS": "200000", "VOXHUB_CACHE__ENABLED": "false",
           "VOXHUB_ADAPTERS__WYOMING__ENABLED": "true", "VOXHUB_ADAPTERS__WYOMING__URI": "tcp://127.0.0.1:0"}  # fmt: skip
    return start_daemon(tmp / name, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 2 minutes of speech instead of 12")
    args = parser.parse_args()
    seconds = 120.0 if args.quick else 720.0
    text = story(seconds)
    tmp = Path(tempfile.mkdtemp(prefix="jobs-bench-"))
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    out: dict[str, float] = {"text chars": len(text)}
    one = daemon_for(tmp, "one", 1, 1)
    try:
        asyncio.run(first_audio(one, "Warming up."))
        started = time.perf_counter()
        _, pcm = post(one, "/v1/audio/speech", {"input": text, "voice": VOICE, "response_format": "pcm"})
        out["plain request wall s"] = time.perf_counter() - started
        out["audio s"] = len(pcm) / 2 / 22050
        _, out["job 1 worker wall s"] = run_job(one, text)
    finally:
        one.stop()
    two = daemon_for(tmp, "two", 2, 0)
    try:
        for n in range(2):
            asyncio.run(first_audio(two, f"Warming up worker {n}."))
        _, out["job 2 workers wall s"] = run_job(two, text)
    finally:
        two.stop()
    busy = daemon_for(tmp, "busy", 2, 1)
    try:
        for n in range(2):
            asyncio.run(first_audio(busy, f"Warming up worker {n}."))
        idle = [asyncio.run(first_audio(busy, f"The porch light number {n} is on now.")) for n in range(5)]
        _, raw = post(busy, "/v1/jobs", {"input": story(600.0), "voice": VOICE, "format": "wav"})
        job_id = json.loads(raw)["id"]
        while get_json(busy, f"/v1/jobs/{job_id}")["chunks_done"] < 1:
            time.sleep(0.1)
        during = []
        for n in range(5):
            during.append(asyncio.run(first_audio(busy, f"The garage light number {n} is off now.")))
            time.sleep(0.13 * n)
        state = get_json(busy, f"/v1/jobs/{job_id}")
        assert state["state"] == "running", "the job ended before the measurement did: use a longer one"
        req = urllib.request.Request(f"{busy.url}/v1/jobs/{job_id}", method="DELETE")
        urllib.request.urlopen(req, timeout=60).close()  # measured: no need to finish it
        time.sleep(1.0)
        # idle again after the job, so load drift on a shared machine hits both sides alike
        idle += [asyncio.run(first_audio(busy, f"The attic light number {n} is on now.")) for n in range(5)]
    finally:
        busy.stop()
    out["interactive first audio idle s"] = statistics.median(idle)
    out["interactive first audio during a job s"] = statistics.median(during)
    out["ratio first audio during job / idle"] = out[
        "interactive first audio during a job s"
    ] / statistics.median(idle)
    out["plain request RTF"] = out["plain request wall s"] / out["audio s"]
    out["job 1 worker RTF"] = out["job 1 worker wall s"] / out["audio s"]
    out["job 2 workers RTF"] = out["job 2 workers wall s"] / out["audio s"]
    out["ratio job 1 worker / plain request"] = out["job 1 worker wall s"] / out["plain request wall s"]
    out["ratio job 2 workers / plain request"] = out["job 2 workers wall s"] / out["plain request wall s"]
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    width = max(map(len, out))
    for key, value in out.items():
        print(f"{key:<{width}}  {value:.3f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
