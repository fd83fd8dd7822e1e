"""/health (and so the web UI's Status page) says whether each adapter is connected, or why not."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAKE_ONLY, Daemon, start_daemon
from tests.mqtt_support import MOSQUITTO, NO_BROKER, Broker, mqtt_env, wait_online

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason=NO_BROKER)


def adapters(daemon: Daemon) -> dict[str, Any]:
    with urllib.request.urlopen(daemon.url + "/health") as response:
        return json.load(response)["adapters"]  # type: ignore[no-any-return]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "broker").start()
    yield broker
    broker.stop()


def test_mqtt_adapter_reports_connected_then_why_not(broker: Broker, tmp_path: Path) -> None:
    env = {**FAKE_ONLY, **mqtt_env(broker), "VOXHUB_ADAPTERS__WYOMING__ENABLED": "true",
           "VOXHUB_ADAPTERS__WYOMING__URI": "tcp://127.0.0.1:0"}  # fmt: skip
    daemon = start_daemon(tmp_path / "data", env=env)
    try:
        wait_online(broker.port)
        status = adapters(daemon)
        assert status["mqtt"] == {"state": "connected"}
        assert status["wyoming"] == {"state": "running"}
        broker.kill()
        deadline = time.monotonic() + 20
        while adapters(daemon)["mqtt"]["state"] == "connected" and time.monotonic() < deadline:
            time.sleep(0.1)
        mqtt = adapters(daemon)["mqtt"]
        assert mqtt["state"] == "disconnected" and f"127.0.0.1:{broker.port}" in mqtt["reason"], mqtt
    finally:
        daemon.stop()
