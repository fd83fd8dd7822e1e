"""The `[adapters.mqtt]` settings and the topics they imply."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from hub.api import ConfigError, VoxhubError, check_format, parse_section

SECTION = "adapters.mqtt"
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# One topic level: no wildcards, no separators, nothing the broker would refuse.
_LEVEL = re.compile(r"^[^/#+\x00]+$")
# An audio target: one level of safe characters only (no "..", no wildcards, nothing a subscriber's
# file-system or URL mapping could misread).
_TARGET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class MqttSettings:
    """Everything the MQTT adapter is configured with (see config/voxhub.toml)."""

    url: str = "mqtt://127.0.0.1:1883"
    """Broker address: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)."""
    username: str = ""
    password: str = ""
    client_id: str = "voxhub"
    """MQTT client id; also the Home Assistant device id. Unique per broker."""
    topic_prefix: str = "voxhub"
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    tls_ca: str = ""
    """CA bundle for mqtts:// (empty = the system's trusted CAs)."""
    tls_cert: str = ""
    tls_key: str = ""
    tls_insecure: bool = False
    """Skip the broker's host name check (self-signed test brokers only)."""
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    hermes: bool = False
    audio_format: str = "wav"
    target: str = "default"
    """The audio topic level used when a command names no `target`."""
    voice: str = ""
    """The announcement voice at start-up (empty = voices.default); the HA select changes it at runtime."""
    public_url: str = ""
    """Base URL that players use to fetch clips (empty = the address the HTTP API is bound to)."""
    max_audio_mb: float = 10.0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or DEFAULT_PORTS[parts.scheme]

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def credentials(self) -> tuple[str, str]:
        """Username and password: the keys, else the ones embedded in the URL."""
        parts = urlsplit(self.url)
        return (
            self.username or unquote(parts.username or ""),
            self.password or unquote(parts.password or ""),
        )

    @property
    def max_audio_bytes(self) -> int:
        return int(self.max_audio_mb * (1 << 20))

    def validate(self) -> MqttSettings:
        """Raise ConfigError naming the first bad key and its fix."""
        parts = urlsplit(self.url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError(
                f"{SECTION}.url = {self.url!r} is not a broker URL: use mqtt://HOST:1883 or mqtts://HOST:8883"
            )
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise ConfigError(f"{SECTION}.url = {self.url!r} has an invalid port: use 1-65535") from None
        if not valid_target(self.target):
            raise ConfigError(
                f"{SECTION}.target = {self.target!r} is not a valid audio target: use one topic level of "
                "1-64 letters, digits, '-' or '_' (e.g. kitchen)"
            )
        for key in ("topic_prefix", "discovery_prefix"):
            value = getattr(self, key)
            if not all(_LEVEL.match(level) for level in value.split("/")):
                raise ConfigError(
                    f"{SECTION}.{key} = {value!r} is not a valid topic: use levels separated by '/', "
                    "without '+', '#' or empty levels"
                )
        if not self.client_id:
            raise ConfigError(f"{SECTION}.client_id must not be empty: pick a name unique on your broker")
        try:
            check_format(self.audio_format, param=f"{SECTION}.audio_format")
        except VoxhubError as exc:
            raise ConfigError(exc.message) from None
        if self.keepalive_s < 5:
            raise ConfigError(f"{SECTION}.keepalive_s = {self.keepalive_s} is too short: use 5 or more")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ConfigError(
                f"{SECTION}.reconnect_min_s / reconnect_max_s must satisfy 0 < min <= max "
                f"(got {self.reconnect_min_s} / {self.reconnect_max_s})"
            )
        if self.max_audio_mb <= 0:
            raise ConfigError(f"{SECTION}.max_audio_mb must be positive (got {self.max_audio_mb})")
        if self.public_url and urlsplit(self.public_url).scheme not in ("http", "https"):
            raise ConfigError(
                f"{SECTION}.public_url = {self.public_url!r} must be an http(s) URL, e.g. http://192.168.1.5:8700"
            )
        for key in ("tls_ca", "tls_cert", "tls_key"):
            value = getattr(self, key)
            if value and not Path(value).expanduser().is_file():
                raise ConfigError(f"{SECTION}.{key} = {value!r} does not exist: point it at a PEM file")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError(
                f"{SECTION}.tls_cert and tls_key go together: set both for a client certificate"
            )
        return self


def load(options: Any) -> MqttSettings:
    """Parse and check the `[adapters.mqtt]` table."""
    settings: MqttSettings = parse_section(MqttSettings, SECTION, dict(options))
    return settings.validate()


@dataclass(frozen=True)
class Topics:
    """Every topic the adapter uses, from the prefixes."""

    prefix: str
    discovery_prefix: str
    node_id: str

    @classmethod
    def of(cls, settings: MqttSettings) -> Topics:
        # HA object and node ids allow only [a-zA-Z0-9_-].
        return cls(settings.topic_prefix, settings.discovery_prefix, object_id(settings.client_id))

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    def command(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def result(self, name: str) -> str:
        return f"{self.prefix}/{name}/result"

    def audio(self, target: str) -> str:
        return f"{self.prefix}/audio/{target}"

    @property
    def voice_state(self) -> str:
        return f"{self.prefix}/voice"

    @property
    def voice_set(self) -> str:
        return f"{self.prefix}/voice/set"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def discovery(self, component: str, object_name: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_name}/config"


def object_id(name: str) -> str:
    """`name` reduced to the characters Home Assistant allows in ids."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)


def valid_target(target: str) -> bool:
    """Whether `target` can be the tail of an audio topic: one level of [A-Za-z0-9_-], 1-64 characters."""
    return bool(_TARGET.match(target))


def valid_level(level: str) -> bool:
    """Whether `level` (a Hermes site or request id) is one topic level: no separators or wildcards."""
    return bool(_LEVEL.match(level)) and level not in (".", "..")
