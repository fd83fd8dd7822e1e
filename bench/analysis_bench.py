"""Daemon memory and check latency with the analysis models in worker processes (issue 16, part 4).

    python bench/analysis_bench.py [--rounds 3] [--repo PATH]

The real daemon (fake engine; analysis on) is sent `POST /v1/quality` with 10 s of the offline Piper voice:
the first check (worker start and model loading included), then `--rounds` warm ones, then one enrollment.
Reported: the daemon's VmRSS (from /proc) at start, after the checks and after the enrollment, the analysis
worker's VmRSS, and the check latencies. `--repo` runs another checkout's daemon the same way (e.g. a main
from before this change, whose analysis ran on threads inside the daemon): the anchor for the comparison.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def post(url: str, payload: dict[str, object]) -> float:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        response.read()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="warm checks after the first")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose daemon to run")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    sys.path.insert(1, str(REPO))
    from bench.enroll_bench import clip
    from tests.conftest import FAKE_ONLY, start_daemon

    audio = base64.b64encode(clip()).decode()
    env = {**FAKE_ONLY, "VOXHUB_ENROLL__ANALYZE": "true"}
    with tempfile.TemporaryDirectory() as tmp:
        daemon = start_daemon(Path(tmp) / "data", env=env)
        try:
            pid = daemon.proc.pid
            time.sleep(1.0)
            at_start = rss_mib(pid)
            first = post(f"{daemon.api}/quality", {"audio_b64": audio})
            warm = [post(f"{daemon.api}/quality", {"audio_b64": audio}) for _ in range(args.rounds)]
            after_checks = rss_mib(pid)
            post(f"{daemon.api}/voices", {"name": "bench", "audio_b64": audio})
            after_enroll = rss_mib(pid)
            with urllib.request.urlopen(f"{daemon.url}/health") as response:
                workers = json.loads(response.read()).get("analysis", {}).get("workers", [])
            worker = ", ".join(f"{rss_mib(w):.0f} MiB" for w in workers) or "none (in the daemon)"
        finally:
            daemon.stop()
    print(f"| {args.repo.name} | {at_start:.0f} MiB | {after_checks:.0f} MiB | {after_enroll:.0f} MiB | {worker} "
          f"| {first:.2f} s | {statistics.median(warm):.2f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
