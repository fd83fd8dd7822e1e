"""What the MQTT commands do: say (audio to `<prefix>/audio/<target>` and a clip URL), Hermes `tts/say`,
enroll and check, each on the Hub facade; the adapter (adapter.py) parses, queues and publishes results."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from adapters.mqtt import commands
from adapters.mqtt.settings import MqttSettings, Topics
from adapters.mqtt.voices import Publish, VoiceSync
from hub.api import Consent, Hub, Priority, SpeechRequest, VoxhubError

log = logging.getLogger("voxhub.mqtt")

MAX_TEXT_PAYLOAD = 1 << 20
HTTP_WAIT_S = 5.0


class CommandHandlers:
    """One method per command; each returns the result body (or raises a VoxhubError for the error result)."""

    def __init__(
        self, hub: Hub, settings: MqttSettings, topics: Topics, publish: Publish, voices: VoiceSync
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.topics = topics
        self.voices = voices
        self._publish = publish
        self._warned_loopback = False

    async def say(self, command: commands.Say) -> dict[str, Any]:
        fmt = command.format or self.settings.audio_format
        target = command.target or self.settings.target
        request = SpeechRequest(
            command.text,
            voice=command.voice or self.voices.voice,
            speed=command.speed,
            priority=Priority.ANNOUNCEMENT,
        )
        data, voice, seconds, content_type = await self.render(request, fmt)
        clip_id = self.hub.remember_clip(data, content_type)
        self._publish(self.topics.audio(target), data)
        return {
            "id": command.id,
            "status": "ok",
            "voice": voice,
            "duration_s": round(seconds, 3),
            "format": fmt,
            "url": await self.clip_url(clip_id),
            "target": target,
            "bytes": len(data),
        }

    async def render(self, request: SpeechRequest, fmt: str) -> tuple[bytes, str, float, str]:
        stream = await self.hub.synthesize(request)
        try:
            chunk = await stream.collect()
        finally:
            await stream.aclose()
        data, content_type = await self.hub.encode(chunk, fmt)
        return data, stream.voice.name, chunk.seconds, content_type

    async def clip_url(self, clip_id: str) -> str | None:
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

    async def hermes_say(self, payload: bytes) -> None:
        """Hermes: audio to the site's audio server as wav, then `tts/sayFinished` (also after errors)."""
        try:
            command = commands.parse_hermes_say(payload, max_bytes=MAX_TEXT_PAYLOAD, new_id=uuid.uuid4().hex)
        except commands.BadCommand as exc:
            log.warning("mqtt: ignoring a bad hermes/tts/say: %s", exc.message)
            return
        site = {"siteId": command.site_id, "sessionId": command.session_id}
        try:
            request = SpeechRequest(command.text, voice=self.voices.voice, priority=Priority.INTERACTIVE)
            data, *_ = await self.render(request, "wav")
            self._publish(f"hermes/audioServer/{command.site_id}/playBytes/{command.id}", data)
        except VoxhubError as exc:
            self._publish(
                "hermes/error/tts", json.dumps({"error": exc.message, "context": command.text, **site})
            )
        self._publish("hermes/tts/sayFinished", json.dumps({"id": command.id, **site}))

    async def enroll(self, payload: bytes) -> dict[str, Any]:
        """Store the voice; the hub judges the clip first (a rejected clip is an error carrying its report)."""
        command = commands.parse_enroll(payload, max_bytes=self.settings.max_audio_bytes)
        audio = command.audio or await self.fetch(command.url)
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

    async def fetch(self, url: str) -> bytes:
        """A clip URL goes through the hub's guarded fetch (private addresses only if allowed), capped here."""
        return await self.hub.fetch_clip(url, max_bytes=self.settings.max_audio_bytes)

    async def check(self, payload: bytes) -> dict[str, Any]:
        command = commands.parse_check(payload, max_bytes=self.settings.max_audio_bytes)
        audio = command.audio or await self.fetch(command.url)
        report = await self.hub.check(audio)
        return {"id": command.id, "verdict": report.verdict, "report": report.to_dict()}
