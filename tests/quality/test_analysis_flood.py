"""A flood of checks cannot starve everyone else: analysis has its own bounded pool, the excess is told
"busy, retry" at once, and speech and /health stay responsive meanwhile (the real daemon, real analysis)."""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest

from tests.conftest import FAKE_ONLY, Daemon, start_daemon
from tests.quality.conftest import wav_bytes

WORKERS, QUEUED, FLOOD = 1, 3, 20


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    env = {**FAKE_ONLY, "VOXHUB_ENROLL__ANALYSIS_WORKERS": str(WORKERS),
           "VOXHUB_ENROLL__MAX_QUEUED_ANALYSES": str(QUEUED)}  # fmt: skip
    daemon = start_daemon(tmp_path_factory.mktemp("flood"), env=env)
    yield daemon
    daemon.stop()


def _check(daemon: Daemon, clip: bytes) -> tuple[int, dict[str, object], str | None]:
    """(status, body, Retry-After) of POST /v1/quality with the clip as multipart."""
    boundary = "voxhubflood"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode() + clip + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
    request = urllib.request.Request(f"{daemon.api}/quality", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read()), None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("Retry-After")


def _timed(url: str, body: dict[str, object] | None = None) -> float:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        response.read()
    return time.perf_counter() - started


def _speak(daemon: Daemon, n: int) -> float:
    """Median seconds of `n` different uncached speech requests."""
    stamp = time.monotonic_ns()
    return statistics.median(
        _timed(
            f"{daemon.api}/audio/speech",
            {
                "model": "tts-1",
                "input": f"Dinner is ready {stamp} {i}.",
                "voice": "fake-low",
                "response_format": "wav",
            },
        )
        for i in range(n)
    )


def test_a_check_flood_gets_busy_answers_while_speech_and_health_stay_responsive(
    daemon: Daemon, piper_clip: np.ndarray
) -> None:
    clip = wav_bytes(piper_clip)
    warm = _check(daemon, clip)  # loads the models once
    assert warm[0] == 200, warm
    quiet = _speak(daemon, 5)

    results: list[tuple[int, dict[str, object], str | None]] = []
    threads = [threading.Thread(target=lambda: results.append(_check(daemon, clip))) for _ in range(FLOOD)]
    for thread in threads:
        thread.start()
    # Speak and ask for /health over the whole flood, until every check is answered (at least 3 s).
    speech, health = [], []
    started = time.perf_counter()
    while any(t.is_alive() for t in threads) or time.perf_counter() - started < 3:
        speech.append(_speak(daemon, 1))
        health.append(_timed(f"{daemon.url}/health"))
        time.sleep(0.05)
    for thread in threads:
        thread.join(300)
    loaded, slowest = statistics.median(speech), max(speech)
    print(
        f"speech quiet {quiet:.3f} s, under the flood median {loaded:.3f} s max {slowest:.3f} s; "
        f"/health max {max(health):.3f} s; {len(speech)} samples over {time.perf_counter() - started:.1f} s"
    )
    assert max(health) < 2.0, health
    assert loaded < 5 * quiet + 0.5 and slowest < 2.0, (speech, quiet)
    busy = [r for r in results if r[0] == 503]
    ok = [r for r in results if r[0] == 200]
    assert len(ok) + len(busy) == FLOOD, [r[:2] for r in results if r[0] not in (200, 503)]
    assert 1 <= len(ok) <= FLOOD - 10 and len(busy) >= 10, (len(ok), len(busy))
    for _, body, retry_after in busy:
        error = body["error"]
        assert isinstance(error, dict) and error["code"] == "busy" and retry_after, body
        assert "retry in a moment" in error["message"] and "enroll.max_queued_analyses" in error["message"]
