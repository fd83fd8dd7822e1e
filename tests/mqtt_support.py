"""A real MQTT broker (mosquitto) on a free loopback port, and a paho-mqtt probe client, for tests and
benchmarks. Never the system broker on 1883."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MOSQUITTO = shutil.which("mosquitto") or next(
    (path for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(path).exists()), None
)
NO_BROKER = (
    "no MQTT broker to test against: the MQTT tests start a real mosquitto on a free port; "
    "install it (apt-get install mosquitto) to run them"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """mosquitto on 127.0.0.1:<free port>, without persistence (a restart forgets retained messages)."""

    def __init__(self, workdir: Path, *, nodelay: bool = False) -> None:
        assert MOSQUITTO is not None, NO_BROKER
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "mosquitto.conf"
        # `user root` stops mosquitto (run as root in CI containers) from switching to a user that cannot
        # read this directory.
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_dest stderr\nuser root\n"
            # Off by default in mosquitto: then a small message can wait ~40 ms behind an unacknowledged one.
            f"set_tcp_nodelay {'true' if nodelay else 'false'}\n"
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mosquitto did not start listening within 10 s")

    def kill(self) -> None:
        """Crash the broker (no clean goodbye to clients)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    at: float

    def json(self) -> Any:
        return json.loads(self.payload)


def _no_delay(client: Any, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Probe:
    """A paho-mqtt client that records every message on its subscriptions."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("#",)) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[Message] = []
        self._changed = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._record
        self.client.on_subscribe = lambda *args: subscribed.set()
        # Like the adapter, send at once: with Nagle's algorithm a command can wait 40 ms for an ACK.
        self.client.on_socket_open = _no_delay
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        self.client.subscribe([(topic, 1) for topic in topics])
        assert subscribed.wait(10), "the probe's subscription was not acknowledged"

    def _record(self, client: Any, userdata: Any, message: Any) -> None:
        with self._changed:
            self.messages.append(
                Message(message.topic, bytes(message.payload), bool(message.retain), time.perf_counter())
            )
            self._changed.notify_all()

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 30.0, since: int = 0) -> Message:
        """The first message (from index `since`) that matches, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages[since:]:
                    if match(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.topic, m.payload[:80]) for m in self.messages[since:]]
                    raise AssertionError(f"no matching message within {timeout} s; saw {seen}")
                self._changed.wait(left)

    def topic(self, topic: str, timeout: float = 30.0, since: int = 0) -> Message:
        return self.wait_for(lambda m: m.topic == topic, timeout, since)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def request(self, command: str, body: dict[str, Any] | bytes | str, *, prefix: str = "voxhub",
                timeout: float = 60.0) -> dict[str, Any]:  # fmt: skip
        """Publish a command and return its result (matched by `id`; one is added to JSON bodies)."""
        since = len(self.messages)
        if isinstance(body, dict):
            body = {"id": uuid.uuid4().hex, **body}
            command_id = body["id"]
            payload: bytes | str = json.dumps(body)
        else:
            payload, command_id = body, None
        self.publish(f"{prefix}/{command}", payload)
        result_topic = f"{prefix}/{command}/result"
        message = self.wait_for(
            lambda m: m.topic == result_topic and m.json().get("id") == command_id, timeout, since
        )
        result: dict[str, Any] = message.json()
        return result

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def mqtt_env(broker: Broker, **keys: str) -> dict[str, str]:
    """Environment that enables the MQTT adapter against `broker` (extra keys: adapters.mqtt.KEY=value)."""
    env = {
        "VOXHUB_ADAPTERS__MQTT__ENABLED": "true",
        "VOXHUB_ADAPTERS__MQTT__URL": broker.url,
        "VOXHUB_ADAPTERS__MQTT__RECONNECT_MAX_S": "1",
    }
    env.update({f"VOXHUB_ADAPTERS__MQTT__{key.upper()}": value for key, value in keys.items()})
    return env


def wait_online(port: int, prefix: str = "voxhub", timeout: float = 30.0) -> None:
    """Wait until the adapter's retained status says `online`."""
    probe = Probe(port, (f"{prefix}/status",))
    try:
        probe.wait_for(lambda m: m.payload == b"online", timeout)
    finally:
        probe.close()
