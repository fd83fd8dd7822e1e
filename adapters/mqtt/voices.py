"""The announcement voice and Home Assistant's view of the voices: the voice select, one notify entity per
cloned voice (retained, cleared when the voice goes), and the voice a say command uses when it names none."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from adapters.mqtt import discovery
from adapters.mqtt.settings import MqttSettings, Topics
from hub.api import ConfigError, Hub, VoxhubError

log = logging.getLogger("voxhub.mqtt")

Publish = Callable[..., None]
"""`publish(topic, payload, retain=False)` on the adapter's broker connection."""


class VoiceSync:
    """Keeps the announcement voice and the retained discovery configs in step with the voice library."""

    def __init__(
        self,
        hub: Hub,
        settings: MqttSettings,
        topics: Topics,
        publish: Publish,
        connected: Callable[[], bool],
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.topics = topics
        self._publish = publish
        self._connected = connected
        self.voice: str | None = settings.voice or None
        """The announcement voice (None: voices.default); the HA select changes it."""
        self._voices: list[str] | None = None
        self._cloned: set[str] = set()
        self._voices_known = asyncio.Event()
        self._lock = asyncio.Lock()

    async def check_start_voice(self) -> None:
        """ConfigError if adapters.mqtt.voice names no voice."""
        if self.voice is not None:
            try:
                await self.hub.get_voice(self.voice)
            except VoxhubError as exc:
                raise ConfigError(f"adapters.mqtt.voice = {self.voice!r}: {exc.message}") from None

    async def publish(self) -> None:
        """The select's options and state, and (with discovery on) every entity's config, retained."""
        if not self._connected():
            return  # published on the next connect
        async with self._lock:  # connects, voice changes and HA restarts can overlap
            await self._publish_now()

    async def _publish_now(self) -> None:
        voices = await self.hub.list_voices()
        names = [voice.name for voice in voices]
        cloned = {voice.name for voice in voices if voice.kind == "cloned"}
        removed, self._cloned = self._cloned - cloned, cloned
        self._voices = names
        self._voices_known.set()
        if self.voice is not None and self.voice not in names:
            log.info("mqtt: the announcement voice %r was removed; back to the default voice", self.voice)
            self.voice = self.settings.voice if self.settings.voice in names else None
        state = self.voice or (await self.hub.get_voice(None)).name
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

    async def clear_if_stale(self, topic: str, payload: bytes) -> None:
        """Remove a retained per-voice entity whose voice is gone (e.g. removed while voxhub was down)."""
        if not payload:
            return
        await self._voices_known.wait()
        current = {discovery.voice_entity(name) for name in self._cloned}
        if discovery.parse_voice_entity(topic, self.topics) not in current:
            log.info("mqtt: removing the stale Home Assistant entity %s", topic)
            self._publish(topic, b"", retain=True)

    async def select(self, name: str) -> None:
        """The HA select picked an announcement voice: use it if it exists, else show the current one again."""
        try:
            self.voice = (await self.hub.get_voice(name)).name
        except VoxhubError as exc:
            log.warning("mqtt: cannot select voice %r: %s", name, exc.message)
        state = self.voice or (await self.hub.get_voice(None)).name
        self._publish(self.topics.voice_state, state, retain=True)
