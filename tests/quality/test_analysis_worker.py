"""The analysis models live in a worker process, not in the daemon (issue 16, part 4), through the real daemon.

The daemon stays small after a quality check and after an enrollment (it never loads torch, CTranslate2 or
onnxruntime), the worker exits after `enroll.analysis_idle_ttl_s`, and a worker killed mid-check answers a
clear 503 while the next check works.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import FAKE_ONLY, Daemon, start_daemon
from tests.quality.conftest import wav_bytes

IDLE_TTL_S = 4.0
RSS_LIMIT_MIB = 120
HEAVY = ("libtorch", "ctranslate2", "onnxruntime")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    env = {**FAKE_ONLY, "VOXHUB_ENROLL__ANALYZE": "true", "VOXHUB_ENROLL__ANALYSIS_WORKERS": "1",
           "VOXHUB_ENROLL__ANALYSIS_IDLE_TTL_S": str(IDLE_TTL_S)}  # fmt: skip
    started = start_daemon(tmp_path_factory.mktemp("analysis-worker"), env=env)
    yield started
    started.stop()


def _post(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _check(daemon: Daemon, clip: bytes) -> tuple[int, dict[str, Any]]:
    return _post(f"{daemon.api}/quality", {"audio_b64": base64.b64encode(clip).decode()})


def _analysis(daemon: Daemon) -> dict[str, Any]:
    with urllib.request.urlopen(f"{daemon.url}/health", timeout=30) as response:
        return json.loads(response.read())["analysis"]  # type: ignore[no-any-return]


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def _loaded(pid: int) -> set[str]:
    """Heavy native libraries mapped into the process."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {lib for lib in HEAVY if lib in maps}


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_models_stay_out_of_the_daemon_and_the_worker_exits_when_idle(
    daemon: Daemon, piper_clip: np.ndarray
) -> None:
    clip = wav_bytes(piper_clip)
    before = _rss_mib(daemon.proc.pid)
    status, report = _check(daemon, clip)
    assert status == 200 and report["verdict"] in ("accept", "warn"), report
    workers = _analysis(daemon)["workers"]
    assert len(workers) == 1 and workers[0] != daemon.proc.pid
    worker = workers[0]
    assert _loaded(worker) >= {"ctranslate2", "onnxruntime"}  # the models are in the worker...
    assert _loaded(daemon.proc.pid) == set()  # ...and never in the daemon
    after_check = _rss_mib(daemon.proc.pid)

    status, voice = _post(
        f"{daemon.api}/voices",
        {"name": "worker-test", "consent": True, "audio_b64": base64.b64encode(clip).decode()},
    )
    assert status == 201, voice
    after_enroll = _rss_mib(daemon.proc.pid)
    print(f"daemon RSS: {before:.0f} MiB at start, {after_check:.0f} after a check, {after_enroll:.0f} after "
          f"enrolling; the worker {_rss_mib(worker):.0f} MiB")  # fmt: skip
    assert after_check <= RSS_LIMIT_MIB and after_enroll <= RSS_LIMIT_MIB, (before, after_check, after_enroll)
    assert _loaded(daemon.proc.pid) == set()

    # Idle for enroll.analysis_idle_ttl_s: the worker exits and its memory goes back.
    _wait(lambda: _analysis(daemon)["workers"] == [], IDLE_TTL_S + 10, "the idle worker to stop")
    _wait(lambda: not Path(f"/proc/{worker}").exists(), 10, f"worker {worker} to exit")
    status, report = _check(daemon, clip)  # and comes back on demand
    assert status == 200, report


def test_a_killed_worker_answers_a_clear_error_and_the_next_check_works(
    daemon: Daemon, piper_clip: np.ndarray
) -> None:
    clip = wav_bytes(piper_clip)
    answer: list[tuple[int, dict[str, Any]]] = []
    checking = threading.Thread(target=lambda: answer.append(_check(daemon, clip)))
    checking.start()
    _wait(lambda: _analysis(daemon)["in_flight"] == 1 and _analysis(daemon)["workers"], 60, "a busy worker")
    worker = _analysis(daemon)["workers"][0]
    os.kill(worker, signal.SIGKILL)
    checking.join(120)
    status, body = answer[0]
    assert status == 503 and body["error"]["code"] == "analysis_crashed", body
    assert "stopped unexpectedly" in body["error"]["message"] and "Retry" in body["error"]["message"]
    assert daemon.proc.poll() is None  # the daemon is still running
    status, report = _check(daemon, clip)
    assert status == 200 and report["verdict"] in ("accept", "warn"), report
    assert _analysis(daemon)["workers"] != [worker]


def test_workers_exit_when_the_daemon_is_killed(tmp_path: Path, piper_clip: np.ndarray) -> None:
    daemon = start_daemon(tmp_path / "killed", env=FAKE_ONLY)
    try:
        status, report = _check(daemon, wav_bytes(piper_clip[: 24000 * 3]))
        assert status == 200, report
        workers = _analysis(daemon)["workers"]
        assert workers
        daemon.kill()  # SIGKILL: the daemon cannot stop them itself
    finally:
        daemon.stop()
    for worker in workers:  # orphaned, they notice and exit instead of holding their models
        _wait(lambda w=worker: not _alive(w), 15, f"orphaned worker {worker} to exit")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
