"""A worker that dies while idle is replaced without failing anything."""

from __future__ import annotations

import os
import signal

from tests.conftest import FAKE_ONLY
from tests.integration.test_http_openai import get_json
from tests.integration.test_workers import _alive, fake_worker, speech, wait_for


def test_idle_worker_killed_then_a_request_succeeds(daemon_factory: object) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    assert speech(daemon, "Warm up.")[0] == 200
    pid = fake_worker(daemon)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not _alive(pid), what="the worker process to end")
    status, _, body = speech(daemon, "Nobody sent anything while it died.")
    assert status == 200, body
    assert fake_worker(daemon)["pid"] not in (None, pid)


def test_idle_worker_death_is_noticed_and_repaired_without_a_request(daemon_factory: object) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    pid = fake_worker(daemon)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: fake_worker(daemon)["pid"] not in (None, pid), what="a new worker")
    health = get_json(daemon, "/health")["engines"]["fake"]
    assert health["restarts"] == 1 and health["state"] == "ready"
    assert "idle" in daemon.log() and speech(daemon, "Fine.")[0] == 200
