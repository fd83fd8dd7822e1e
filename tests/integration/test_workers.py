"""Worker processes under the real daemon: crashes, idle exit, another interpreter, kill -9 of the daemon."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import soundfile as sf

from hub.library import VoiceLibrary
from tests.conftest import FAKE_ONLY, Daemon
from tests.integration.test_http_openai import get_json, post


def speech(daemon: Daemon, text: str, voice: str = "fake-low") -> tuple[int, dict, bytes]:
    body = {"model": "tts-1", "input": text, "voice": voice, "response_format": "wav"}
    return post(daemon, "/v1/audio/speech", json.dumps(body).encode())


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def fake_worker(daemon: Daemon) -> dict:
    return get_json(daemon, "/health")["engines"]["fake"]["workers"][0]


def test_killed_worker_fails_only_the_in_flight_request(daemon_factory: object) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_ENGINES__FAKE__DELAY_S": "3"})  # type: ignore[operator]
    result: list[tuple[int, dict, bytes]] = []
    thread = threading.Thread(target=lambda: result.append(speech(daemon, "This takes three seconds.")))
    thread.start()
    wait_for(lambda: fake_worker(daemon)["state"] == "busy", what="the worker to be busy")
    os.kill(fake_worker(daemon)["pid"], signal.SIGKILL)
    thread.join(30)
    status, headers, body = result[0]
    assert status == 503, body
    error = json.loads(body)["error"]
    assert (
        error["code"] == "engine_unavailable"
        and "crashed" in error["message"]
        and "retry" in error["message"]
    )
    assert int(headers["Retry-After"]) >= 1
    status, _, audio = speech(daemon, "Now it works again.")
    assert status == 200 and sf.info(io.BytesIO(audio)).frames > 0
    health = get_json(daemon, "/health")["engines"]["fake"]
    assert health["restarts"] == 1 and health["state"] == "ready"


def test_engine_crash_inside_a_request_is_a_503_and_the_next_succeeds(daemon_factory: object) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    status, _, body = speech(daemon, "Please CRASH now.")
    assert status == 503 and "retry" in json.loads(body)["error"]["message"]
    assert speech(daemon, "Hello again.")[0] == 200


def test_idle_worker_exits_and_restarts_on_demand(daemon_factory: object) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_ENGINES__FAKE__IDLE_TTL_S": "0.5"})  # type: ignore[operator]
    assert speech(daemon, "Warm up.")[0] == 200
    pid = fake_worker(daemon)["pid"]
    wait_for(lambda: fake_worker(daemon)["state"] == "stopped", what="the idle worker to exit")
    wait_for(lambda: not _alive(pid), what="the worker process to end")
    assert speech(daemon, "Wake up again.")[0] == 200
    assert fake_worker(daemon)["pid"] not in (None, pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its /proc status says Z.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "\nState:\tZ" not in status.read_text()


def test_worker_runs_under_another_interpreter(daemon_factory: object, tmp_path: Path) -> None:
    venv = tmp_path / "engine-venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True
    )
    python = venv / "bin" / "python"
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_ENGINES__FAKE__PYTHON": str(python)})  # type: ignore[operator]
    assert fake_worker(daemon)["python"] == str(python)
    assert speech(daemon, "From another venv.")[0] == 200


def _clip(seconds: float, pitch: float) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * pitch * t), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_kill_9_during_writes_leaves_a_consistent_library(daemon_factory: object, tmp_path: Path) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    acknowledged: list[str] = []
    stop = threading.Event()

    def enroll(worker: int) -> None:
        n = 0
        while not stop.is_set():
            name = f"v{worker}-{n}"
            body = json.dumps({"name": name, "consent": True, "audio_b64": base64.b64encode(_clip(2.0, 200 + n)).decode(),
                               "transcript": f"voice number {n}"})  # fmt: skip
            try:
                status, _, _ = post(daemon, "/v1/voices", body.encode())
            except OSError:
                return
            if status == 201:
                acknowledged.append(name)
            n += 1

    threads = [threading.Thread(target=enroll, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 10, what="some enrollments")
    daemon.kill(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(10)

    with VoiceLibrary.open(daemon.data_dir / "voxhub.db") as library:
        assert library.integrity_check() == []
        names = set(library.voice_names())
        assert set(acknowledged) <= names  # every acknowledged write survived
        for name in names:
            record = library.get_voice(name)
            assert record is not None and record.transcript.startswith("voice number")
            assert len(record.reference) == 4 * 2 * record.reference_rate  # 2 s of float32, complete

    restarted = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    listed = {v["name"] for v in get_json(restarted, "/v1/voices")["data"] if v["kind"] == "cloned"}
    assert listed == names


def _metric(daemon: Daemon, line_prefix: str) -> float:
    with urllib.request.urlopen(daemon.url + "/metrics") as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(line_prefix):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_client_disconnect_cancels_its_remaining_sentences(daemon_factory: object) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_ENGINES__FAKE__DELAY_S": "0.4"})  # type: ignore[operator]
    text = " ".join(f"Sentence number {i} is here." for i in range(15))
    parsed = urlparse(daemon.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    body = json.dumps({"model": "tts-1", "input": text, "voice": "fake-low", "response_format": "pcm"})
    conn.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200 and response.read1(1024)
    conn.close()  # the listener hangs up after the first audio
    engine_sentences = 'voxhub_sentences_total{engine="fake",source="engine"}'
    wait_for(lambda: _metric(daemon, 'voxhub_synthesis_requests_total{engine="fake",outcome="cancelled"}') == 1,
             what="the request to be cancelled")  # fmt: skip
    health = get_json(daemon, "/health")["engines"]["fake"]
    assert health["queued"] == 0
    wait_for(lambda: fake_worker(daemon)["state"] == "ready", what="the worker to be free")
    assert _metric(daemon, engine_sentences) < 5  # of 15: the rest never reached the engine
    assert speech(daemon, "Still here.")[0] == 200
