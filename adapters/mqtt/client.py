"""A paho-mqtt 2.x client bridged to asyncio: reconnects with backoff, resubscribes, and hands messages
and connection changes to the event loop.

paho runs its network loop in its own thread (`loop_start`), which also does the reconnecting with an
exponential backoff; callbacks are passed to the event loop with `call_soon_threadsafe`, so the adapter's
own code never runs on paho's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.mqtt.settings import MqttSettings

log = logging.getLogger("voxhub.mqtt")

# QoS 1 messages published while the broker is away wait in paho's queue; bound it (they can be audio).
MAX_QUEUED = 200


class MqttClient:
    """One broker connection: `start`, `publish`, `stop`; `on_message(topic, payload, retained)`."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        subscriptions: Callable[[], list[str]],
        will_topic: str,
        on_message: Callable[[str, bytes, bool], None],
        on_connected: Callable[[], None],
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:  # pragma: no cover - depends on the install
            from hub.api import ConfigError

            raise ConfigError(
                "adapters.mqtt is enabled but paho-mqtt is not installed: pip install 'voxhub[mqtt]'"
            ) from None
        self.settings = settings
        self._subscriptions = subscriptions
        self._on_message = on_message
        self._on_connected = on_connected
        self._loop = asyncio.get_running_loop()
        self.connected = asyncio.Event()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv311,
            # A clean session: commands sent while voxhub was away are stale ("the door is open" an hour
            # late), so the broker need not keep them.
            clean_session=True,
        )
        username, password = settings.credentials
        if username:
            self._client.username_pw_set(username, password or None)
        if settings.tls:
            self._client.tls_set(
                ca_certs=_path(settings.tls_ca),
                certfile=_path(settings.tls_cert),
                keyfile=_path(settings.tls_key),
                cert_reqs=ssl.CERT_REQUIRED,
            )
            self._client.tls_insecure_set(settings.tls_insecure)
        self._client.will_set(will_topic, "offline", qos=1, retain=True)
        self._client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)  # type: ignore[arg-type]
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_socket_open = _no_delay
        self._client.on_connect_fail = self._handle_connect_fail

    def start(self) -> None:
        """Connect in the background; paho keeps retrying (with backoff) until the broker answers."""
        log.info(
            "mqtt: connecting to %s:%s as %r", self.settings.host, self.settings.port, self.settings.client_id
        )
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s
        )
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int = 1) -> Any:
        """Queue a message; QoS 1 messages survive a reconnect (paho resends them)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (0, 4):  # 4 = not connected: queued, sent after the reconnect
            log.warning("mqtt: could not queue a message for %s (paho error %s)", topic, info.rc)
        return info

    async def stop(self, last_words: tuple[str, bytes] | None = None) -> None:
        """Publish `last_words` (topic, payload; retained) if connected, then disconnect."""
        if last_words is not None and self.connected.is_set():
            info = self._client.publish(last_words[0], last_words[1], qos=1, retain=True)
            await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self.connected.clear()

    # --- paho's thread ----------------------------------------------------------------------------

    def _handle_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.error(
                "mqtt: the broker refused the connection (%s): check adapters.mqtt.username/password and "
                "client_id; retrying",
                reason,
            )
            return
        topics = self._subscriptions()
        # Subscribing here means every reconnect resubscribes (a clean session forgets subscriptions).
        client.subscribe([(topic, 1) for topic in topics])
        self._call(self._connected)

    def _handle_connect_fail(self, client: Any, userdata: Any) -> None:
        log.warning(
            "mqtt: cannot reach the broker at %s:%s; retrying with backoff (check adapters.mqtt.url)",
            self.settings.host,
            self.settings.port,
        )

    def _handle_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._call(self.connected.clear)
        if reason.is_failure:
            log.warning("mqtt: lost the broker connection (%s); reconnecting with backoff", reason)

    def _handle_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._call(self._on_message, message.topic, bytes(message.payload), bool(message.retain))

    def _call(self, func: Callable[..., None], *args: Any) -> None:
        # RuntimeError: the event loop is closing, so nothing is listening any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(func, *args)

    def _connected(self) -> None:
        log.info("mqtt: connected to %s:%s", self.settings.host, self.settings.port)
        self.connected.set()
        self._on_connected()


def _no_delay(client: Any, userdata: Any, sock: Any) -> None:
    """Send small packets at once: Nagle's algorithm can hold a command's PUBACK or a result for 40 ms."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _path(value: str) -> str | None:
    return str(Path(value).expanduser()) if value else None
