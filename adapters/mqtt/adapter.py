"""The MQTT adapter's lifetime and message flow: connect, subscribe, route each message (say commands queue
and are spoken in order), publish results on `.../result` and availability on `status`. What the commands
do is handlers.py; the announcement voice and Home Assistant discovery are voices.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from adapters.mqtt import commands, discovery
from adapters.mqtt.client import MqttClient
from adapters.mqtt.handlers import MAX_TEXT_PAYLOAD, CommandHandlers
from adapters.mqtt.settings import Topics, load
from adapters.mqtt.voices import VoiceSync
from hub.api import Hub, TaskSet, VoxhubError

log = logging.getLogger("voxhub.mqtt")

SAY_QUEUE = 500
HERMES_SAY = "hermes/tts/say"


class MqttAdapter:
    """Connects to the broker and serves commands until stopped."""

    def __init__(self, hub: Hub, options: Mapping[str, Any]) -> None:
        self.hub = hub
        self.settings = load(options)
        self.topics = Topics.of(self.settings)
        self.client: MqttClient | None = None
        self.voices = VoiceSync(hub, self.settings, self.topics, self._publish, self._connected)
        self.handlers = CommandHandlers(hub, self.settings, self.topics, self._publish, self.voices)
        self._say_queue: asyncio.Queue[commands.Say] = asyncio.Queue(SAY_QUEUE)
        self._tasks = TaskSet(log, "mqtt")
        self._unsubscribe: Callable[[], None] | None = None

    # --- lifetime ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the start-up voice, then connect in the background (commands are served once connected)."""
        await self.voices.check_start_voice()
        self.client = MqttClient(
            self.settings,
            subscriptions=self._subscriptions,
            will_topic=self.topics.status,
            on_message=self._on_message,
            on_connected=lambda: self._spawn(self._announce_presence()),
        )
        self._unsubscribe = self.hub.subscribe_voice_changes(lambda: self._spawn(self.voices.publish()))
        self._spawn(self._say_loop())
        self.client.start()

    def status(self) -> dict[str, str]:
        """For /health and the web UI: connected to the broker, or why not."""
        if self._connected():
            return {"state": "connected"}
        return {
            "state": "disconnected",
            "reason": f"not connected to the MQTT broker at {self.settings.host}:{self.settings.port}",
        }

    async def stop(self) -> None:
        """Say `offline` (retained), disconnect, and cancel the work in flight."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self._tasks.cancel_all()
        if self.client is not None:
            await self.client.stop(last_words=(self.topics.status, b"offline"))

    def _subscriptions(self) -> list[str]:
        topics = [self.topics.command(name) for name in ("say", "enroll", "check")]
        topics.append(self.topics.voice_set)
        if self.settings.discovery:
            topics.append(self.topics.ha_status)
            # Our own retained per-voice configs come back here, so ones for removed voices can be cleared.
            topics.append(self.topics.discovery("notify", "+"))
        if self.settings.hermes:
            topics.append(HERMES_SAY)
        return topics

    def _spawn(self, work: Awaitable[Any]) -> None:
        self._tasks.spawn(work)

    def _connected(self) -> bool:
        return self.client is not None and self.client.connected.is_set()

    def _publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        assert self.client is not None
        self.client.publish(topic, payload, retain=retain)

    async def _announce_presence(self) -> None:
        self._publish(self.topics.status, "online", retain=True)
        await self.voices.publish()

    # --- incoming ---------------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        topics = self.topics
        if topic == topics.ha_status:
            if payload.strip() == b"online":
                log.info("mqtt: Home Assistant is online; publishing discovery again")
                self._spawn(self.voices.publish())
            return
        if topic.startswith(f"{topics.discovery_prefix}/"):
            # Our own retained configs, echoed by the wildcard subscription: only per-voice ones need a look.
            if discovery.parse_voice_entity(topic, topics) is not None:
                self._spawn(self.voices.clear_if_stale(topic, payload))
            return
        if not payload:
            return  # how clients clear a retained message; nothing to do
        if retained:
            # A retained command would be replayed on every reconnect: speak it never rather than often.
            log.warning(
                "mqtt: ignoring a retained message on %s: publish commands without the retain flag", topic
            )
            return
        if topic == topics.voice_set:
            self._spawn(self.voices.select(payload.decode("utf-8", "replace").strip()))
        elif topic == topics.command("say"):
            self._queue_say(payload)
        elif topic == topics.command("enroll"):
            self._spawn(self._command("enroll", self.handlers.enroll, payload))
        elif topic == topics.command("check"):
            self._spawn(self._command("check", self.handlers.check, payload))
        elif topic == HERMES_SAY:
            self._spawn(self.handlers.hermes_say(payload))

    def _queue_say(self, payload: bytes) -> None:
        try:
            command = commands.parse_say(payload, max_bytes=MAX_TEXT_PAYLOAD)
            self._say_queue.put_nowait(command)
        except commands.BadCommand as exc:
            self._error("say", exc, exc.command_id)
        except asyncio.QueueFull:
            message = f"{SAY_QUEUE} announcements are already queued: try again when they are spoken"
            self._error("say", commands.BadCommand(message, code="busy"), command.id)

    async def _command(
        self, name: str, handler: Callable[[bytes], Awaitable[dict[str, Any]]], payload: bytes
    ) -> None:
        try:
            result = await handler(payload)
            self._result(name, {"id": result.pop("id", None), "status": "ok", **result})
        except VoxhubError as exc:
            self._error(name, exc, getattr(exc, "command_id", None) or _id_of(payload))
        except Exception as exc:  # the adapter must survive any one command
            log.exception("mqtt: %s failed", name)
            self._error(name, _internal(exc), _id_of(payload))

    def _result(self, name: str, body: dict[str, Any]) -> None:
        self._publish(self.topics.result(name), json.dumps(body, default=str))

    def _error(self, name: str, exc: VoxhubError, command_id: Any) -> None:
        log.info("mqtt: %s rejected: %s", name, exc.message)
        extra = dict(exc.extra)
        if "quality" in extra:  # a rejected clip: its report, under the same key as in an ok result
            extra["report"] = extra.pop("quality")
        self._result(
            name, {"id": command_id, "status": "error", "code": exc.code, "error": exc.message, **extra}
        )

    # --- say ----------------------------------------------------------------------------------------

    async def _say_loop(self) -> None:
        """Speak queued announcements one at a time, in arrival order (speakers play them in order)."""
        while True:
            command = await self._say_queue.get()
            try:
                self._result("say", await self.handlers.say(command))
            except VoxhubError as exc:
                self._error("say", exc, command.id)
            except Exception as exc:
                log.exception("mqtt: say failed")
                self._error("say", _internal(exc), command.id)

    # --- enroll and check ---------------------------------------------------------------------------


def _id_of(payload: bytes) -> Any:
    """The `id` of a payload that failed later on, if it has one."""
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = json.loads(payload)
        if isinstance(body, dict) and isinstance(body.get("id"), (str, int)):
            return body["id"]
    return None


def _internal(exc: Exception) -> VoxhubError:
    error = VoxhubError(f"internal error ({type(exc).__name__}: {exc}); see the voxhub log")
    return error
