"""The MQTT adapter: commands on `<prefix>/say|enroll|check` (and Hermes `tts/say`) translated to the Hub
facade, results on `.../result`, audio on `<prefix>/audio/<target>`, Home Assistant discovery."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from adapters.mqtt import commands, discovery
from adapters.mqtt.client import MqttClient
from adapters.mqtt.settings import Topics, load
from hub.api import ConfigError, Consent, Hub, Priority, SpeechRequest, TaskSet, VoxhubError

log = logging.getLogger("voxhub.mqtt")

SAY_QUEUE = 500
MAX_TEXT_PAYLOAD = 1 << 20
HTTP_WAIT_S = 5.0
HERMES_SAY = "hermes/tts/say"


class MqttAdapter:
    """Connects to the broker and serves commands until stopped."""

    def __init__(self, hub: Hub, options: Mapping[str, Any]) -> None:
        self.hub = hub
        self.settings = load(options)
        self.topics = Topics.of(self.settings)
        self.client: MqttClient | None = None
        self._voice: str | None = self.settings.voice or None
        self._voices: list[str] | None = None
        self._cloned: set[str] = set()
        self._voices_known = asyncio.Event()
        self._discovery_lock = asyncio.Lock()
        self._say_queue: asyncio.Queue[commands.Say] = asyncio.Queue(SAY_QUEUE)
        self._tasks = TaskSet(log, "mqtt")
        self._unsubscribe: Callable[[], None] | None = None
        self._warned_loopback = False

    # --- lifetime ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the start-up voice, then connect in the background (commands are served once connected)."""
        if self._voice is not None:
            try:
                await self.hub.get_voice(self._voice)
            except VoxhubError as exc:
                raise ConfigError(f"adapters.mqtt.voice = {self._voice!r}: {exc.message}") from None
        self.client = MqttClient(
            self.settings,
            subscriptions=self._subscriptions,
            will_topic=self.topics.status,
            on_message=self._on_message,
            on_connected=lambda: self._spawn(self._announce_presence()),
        )
        self._unsubscribe = self.hub.subscribe_voice_changes(lambda: self._spawn(self._publish_discovery()))
        self._spawn(self._say_loop())
        self.client.start()

    def status(self) -> dict[str, str]:
        """For /health and the web UI: connected to the broker, or why not."""
        if self.client is not None and self.client.connected.is_set():
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

    def _publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        assert self.client is not None
        self.client.publish(topic, payload, retain=retain)

    # --- incoming ---------------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        topics = self.topics
        if topic == topics.ha_status:
            if payload.strip() == b"online":
                log.info("mqtt: Home Assistant is online; publishing discovery again")
                self._spawn(self._publish_discovery())
            return
        if topic.startswith(f"{topics.discovery_prefix}/"):
            # Our own retained configs, echoed by the wildcard subscription: only per-voice ones need a look.
            if discovery.parse_voice_entity(topic, topics) is not None:
                self._spawn(self._clear_if_stale(topic, payload))
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
            self._spawn(self._set_voice(payload.decode("utf-8", "replace").strip()))
        elif topic == topics.command("say"):
            self._queue_say(payload)
        elif topic == topics.command("enroll"):
            self._spawn(self._command("enroll", self._enroll, payload))
        elif topic == topics.command("check"):
            self._spawn(self._command("check", self._check, payload))
        elif topic == HERMES_SAY:
            self._spawn(self._hermes_say(payload))

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
                self._result("say", await self._say(command))
            except VoxhubError as exc:
                self._error("say", exc, command.id)
            except Exception as exc:
                log.exception("mqtt: say failed")
                self._error("say", _internal(exc), command.id)

    async def _say(self, command: commands.Say) -> dict[str, Any]:
        fmt = command.format or self.settings.audio_format
        target = command.target or self.settings.target
        request = SpeechRequest(
            command.text,
            voice=command.voice or self._voice,
            speed=command.speed,
            priority=Priority.ANNOUNCEMENT,
        )
        data, voice, seconds, content_type = await self._render(request, fmt)
        clip_id = self.hub.remember_clip(data, content_type)
        self._publish(self.topics.audio(target), data)
        return {
            "id": command.id,
            "status": "ok",
            "voice": voice,
            "duration_s": round(seconds, 3),
            "format": fmt,
            "url": await self._clip_url(clip_id),
            "target": target,
            "bytes": len(data),
        }

    async def _render(self, request: SpeechRequest, fmt: str) -> tuple[bytes, str, float, str]:
        stream = await self.hub.synthesize(request)
        try:
            chunk = await stream.collect()
        finally:
            await stream.aclose()
        data, content_type = await self.hub.encode(chunk, fmt)
        return data, stream.voice.name, chunk.seconds, content_type

    async def _clip_url(self, clip_id: str) -> str | None:
        # `voxhub serve` binds the HTTP API just after starting adapters; a command can beat it.
        base = self.settings.public_url or await self.hub.wait_http_url(HTTP_WAIT_S)
        if base is None:
            return None
        parts = urlsplit(base.rstrip("/"))
        if parts.hostname in ("0.0.0.0", "::"):
            # Bound to every interface: a player needs a real address (set public_url to choose it).
            parts = parts._replace(netloc=f"{socket.gethostname()}:{parts.port}")
        elif parts.hostname in ("127.0.0.1", "::1", "localhost") and not self._warned_loopback:
            self._warned_loopback = True
            log.info(
                "mqtt: clip URLs point at %s, which only this machine can reach: set "
                "adapters.mqtt.public_url for speakers elsewhere",
                parts.netloc,
            )
        return f"{urlunsplit(parts)}/v1/audio/clips/{clip_id}"

    async def _hermes_say(self, payload: bytes) -> None:
        """Hermes: audio to the site's audio server as wav, then `tts/sayFinished` (also after errors)."""
        try:
            command = commands.parse_hermes_say(payload, max_bytes=MAX_TEXT_PAYLOAD, new_id=uuid.uuid4().hex)
        except commands.BadCommand as exc:
            log.warning("mqtt: ignoring a bad hermes/tts/say: %s", exc.message)
            return
        site = {"siteId": command.site_id, "sessionId": command.session_id}
        try:
            request = SpeechRequest(command.text, voice=self._voice, priority=Priority.INTERACTIVE)
            data, *_ = await self._render(request, "wav")
            self._publish(f"hermes/audioServer/{command.site_id}/playBytes/{command.id}", data)
        except VoxhubError as exc:
            self._publish(
                "hermes/error/tts", json.dumps({"error": exc.message, "context": command.text, **site})
            )
        self._publish("hermes/tts/sayFinished", json.dumps({"id": command.id, **site}))

    # --- enroll and check ---------------------------------------------------------------------------

    async def _enroll(self, payload: bytes) -> dict[str, Any]:
        """Store the voice; the hub judges the clip first (a rejected clip is an error carrying its report)."""
        command = commands.parse_enroll(payload, max_bytes=self.settings.max_audio_bytes)
        audio = command.audio or await self._fetch(command.url)
        voice = await self.hub.enroll(
            command.name,
            audio,
            transcript=command.transcript,
            language=command.language,
            replace=command.replace,
            consent=Consent("mqtt", str(command.id or "")) if command.consent else None,
        )
        details = await self.hub.voice_details(voice.name)
        return {
            "id": command.id,
            "voice": voice.to_dict(),
            "transcript": details.get("transcript", ""),
            "report": details.get("quality"),
        }

    async def _fetch(self, url: str) -> bytes:
        """A clip URL goes through the hub's guarded fetch (private addresses only if allowed), capped here."""
        return await self.hub.fetch_clip(url, max_bytes=self.settings.max_audio_bytes)

    async def _check(self, payload: bytes) -> dict[str, Any]:
        command = commands.parse_check(payload, max_bytes=self.settings.max_audio_bytes)
        audio = command.audio or await self._fetch(command.url)
        report = await self.hub.check(audio)
        return {"id": command.id, "verdict": report.verdict, "report": report.to_dict()}

    # --- Home Assistant -----------------------------------------------------------------------------

    async def _announce_presence(self) -> None:
        self._publish(self.topics.status, "online", retain=True)
        await self._publish_discovery()

    async def _publish_discovery(self) -> None:
        """The select's options and state, and (with discovery on) every entity's config, retained."""
        if self.client is None or not self.client.connected.is_set():
            return  # published on the next connect
        async with self._discovery_lock:  # connects, voice changes and HA restarts can overlap
            await self._publish_discovery_now()

    async def _publish_discovery_now(self) -> None:
        voices = await self.hub.list_voices()
        names = [voice.name for voice in voices]
        cloned = {voice.name for voice in voices if voice.kind == "cloned"}
        removed, self._cloned = self._cloned - cloned, cloned
        self._voices = names
        self._voices_known.set()
        if self._voice is not None and self._voice not in names:
            log.info("mqtt: the announcement voice %r was removed; back to the default voice", self._voice)
            self._voice = self.settings.voice if self.settings.voice in names else None
        state = self._voice or (await self.hub.get_voice(None)).name
        if self.settings.discovery:
            topics = self.topics
            self._publish(
                topics.discovery("notify", discovery.ANNOUNCE),
                discovery.render(discovery.announce_config(topics)),
                retain=True,
            )
            self._publish(
                topics.discovery("select", discovery.VOICE_SELECT),
                discovery.render(discovery.voice_select_config(topics, names)),
                retain=True,
            )
            for name in sorted(cloned):
                config = discovery.voice_notify_config(topics, name)
                self._publish(
                    topics.discovery("notify", discovery.voice_entity(name)),
                    discovery.render(config),
                    retain=True,
                )
            for gone in removed:
                self._publish(topics.discovery("notify", discovery.voice_entity(gone)), b"", retain=True)
        self._publish(self.topics.voice_state, state, retain=True)

    async def _clear_if_stale(self, topic: str, payload: bytes) -> None:
        """Remove a retained per-voice entity whose voice is gone (e.g. removed while voxhub was down)."""
        if not payload:
            return
        await self._voices_known.wait()
        current = {discovery.voice_entity(name) for name in self._cloned}
        if discovery.parse_voice_entity(topic, self.topics) not in current:
            log.info("mqtt: removing the stale Home Assistant entity %s", topic)
            self._publish(topic, b"", retain=True)

    async def _set_voice(self, name: str) -> None:
        """The HA select picked an announcement voice: use it if it exists, else show the current one again."""
        try:
            self._voice = (await self.hub.get_voice(name)).name
        except VoxhubError as exc:
            log.warning("mqtt: cannot select voice %r: %s", name, exc.message)
        state = self._voice or (await self.hub.get_voice(None)).name
        self._publish(self.topics.voice_state, state, retain=True)


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
