"""The daemon's typed settings sections ([http], [text], [cache], [voices], [engines.*], [adapters.*], [log],
[asr], [quality], [enroll], [jobs]): their keys, defaults and the checks that span keys.

Each key's type (and, in its field metadata, its choices) is checked as the section is parsed (hub.settings.
fields); `validate()` checks ranges and what depends on several keys, naming the key and the fix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.settings.fields import check_port, check_positive


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8700
    api_keys: tuple[str, ...] = ()
    require_api_key: str = field(default="auto", metadata={"choices": ("auto", "always", "never")})
    max_body_mb: float = 25.0
    allowed_hosts: tuple[str, ...] = ()
    """Host names besides loopback, IP literals and this machine's name (a reverse proxy's); "*" = any."""
    allowed_origins: tuple[str, ...] = ()
    """Web origins (scheme://host[:port]) allowed to send state-changing requests from a browser."""
    auth_failures_per_minute: int = 10
    """Wrong API keys a client (IP address) may send in a minute before it gets 429."""
    ui: bool = True
    """Serve the web UI at /ui/."""
    ingress_proxies: tuple[str, ...] = ()
    """Addresses whose requests carrying X-Ingress-Path are trusted (Home Assistant's Supervisor)."""

    def validate(self) -> None:
        check_port("http.port", self.port)
        check_positive("http.auth_failures_per_minute", self.auth_failures_per_minute)
        for address in self.ingress_proxies:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ConfigError(
                    f"http.ingress_proxies: {address!r} is not an IP address: list the proxy's address, "
                    'e.g. ["172.30.32.2"] for the Home Assistant Supervisor'
                ) from None
        # "always" may rely on keys made by `voxhub keys create` alone; "auto" beyond loopback wants a
        # deliberate choice. Behind ingress alone (no keys) only the trusted proxy gets in: a closed API.
        if (
            self.keys_required
            and not self.api_keys
            and self.require_api_key == "auto"
            and not self.ingress_proxies
        ):
            raise ConfigError(
                f"http.api_keys is empty but http.host = {self.host!r} is not a loopback address, so API keys "
                'are required: set http.api_keys = ["..."] (or VOXHUB_HTTP__API_KEYS), or create keys with '
                '`voxhub keys create NAME` and set http.require_api_key = "always", or set '
                'http.require_api_key = "never" if the network is trusted'
            )

    @property
    def keys_required(self) -> bool:
        if self.require_api_key == "always":
            return True
        if self.require_api_key == "never":
            return False
        return not is_loopback(self.host)


@dataclass(frozen=True)
class TextSettings:
    max_chars: int = 4096
    normalize: bool = True

    def validate(self) -> None:
        check_positive("text.max_chars", self.max_chars)


@dataclass(frozen=True)
class CacheSettings:
    enabled: bool = True
    max_mb: float = 256.0

    def validate(self) -> None:
        if self.max_mb < 0:
            raise ConfigError(f"cache.max_mb must be >= 0, got {self.max_mb}: use 0 to keep nothing")


@dataclass(frozen=True)
class VoicesSettings:
    default: str = "en_US-joe-medium"
    aliases: Mapping[str, str] = field(default_factory=dict)
    """OpenAI voice names (alloy, echo, ...) mapped to voxhub voices."""

    def validate(self) -> None:
        if not self.default:
            raise ConfigError("voices.default is empty: name the voice used when a request names none")


@dataclass(frozen=True)
class EngineSettings:
    name: str
    enabled: bool = True
    python: str = ""
    """Interpreter for the worker (a separate venv); empty = the daemon's own."""
    workers: int = 1
    idle_ttl_s: float = 600.0
    """An idle worker exits after this many seconds (0 = never)."""
    start_timeout_s: float = 60.0
    options: Mapping[str, Any] = field(default_factory=dict)
    """Engine-specific keys, passed to the engine as they are."""

    def validate(self) -> None:
        key = f"engines.{self.name}"
        from engines import ENGINES

        if self.name not in ENGINES:
            raise ConfigError(f"[{key}] names an unknown engine; known engines: {', '.join(sorted(ENGINES))}")
        check_positive(f"{key}.workers", self.workers)
        if self.idle_ttl_s < 0:
            raise ConfigError(
                f"{key}.idle_ttl_s must be >= 0 (0 keeps the worker forever), got {self.idle_ttl_s}"
            )
        if self.python and not Path(self.python).exists():
            raise ConfigError(
                f"{key}.python = {self.python!r} does not exist: point it at a venv's bin/python"
            )


@dataclass(frozen=True)
class AdapterSettings:
    name: str
    enabled: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    """The adapter's own keys; each adapter parses them into its typed settings (see `parse_section`)."""

    def validate(self) -> None:
        from adapters import ADAPTERS

        if self.name not in ADAPTERS:
            raise ConfigError(
                f"[adapters.{self.name}] names an unknown adapter; known adapters: {', '.join(sorted(ADAPTERS))}"
            )


@dataclass(frozen=True)
class LogSettings:
    level: str = field(default="info", metadata={"choices": ("debug", "info", "warning", "error")})

    def validate(self) -> None:
        """Nothing to check beyond the level's choices, checked as the section is parsed."""


@dataclass(frozen=True)
class AsrSettings:
    backend: str = field(default="faster-whisper", metadata={"choices": ("faster-whisper", "openai-whisper")})
    model: str = "base"
    """Whisper size: tiny, base, small, medium, large-v3 (fetch with `voxhub models pull`)."""
    device: str = field(default="auto", metadata={"choices": ("auto", "cpu", "cuda")})
    threads: int = 0

    def validate(self) -> None:
        if self.threads < 0:
            raise ConfigError(f"asr.threads must be >= 0 (0 = all cores), got {self.threads}")


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds of the quality check (hub/quality/report.py): each finding's severity and the verdict."""

    accept_score: float = 0.75
    reject_score: float = 0.4
    min_speech_s: float = 3.0
    max_silence_ratio: float = 0.5
    max_clipping_ratio: float = 0.001
    min_snr_db: float = 20.0
    min_bandwidth_hz: float = 7000.0
    min_loudness_lufs: float = -40.0
    max_dc_offset: float = 0.02
    min_speaker_consistency: float = 0.8
    min_transcript_confidence: float = 0.45
    min_similarity: float = 0.8
    max_wer: float = 0.3

    def validate(self) -> None:
        if not 0 <= self.reject_score <= self.accept_score <= 1:
            raise ConfigError(
                "quality thresholds must satisfy 0 <= reject_score <= accept_score <= 1, got "
                f"reject_score = {self.reject_score}, accept_score = {self.accept_score}"
            )


@dataclass(frozen=True)
class EnrollSettings:
    max_upload_mb: float = 25.0
    max_seconds: float = 300.0
    min_prompt_s: float = 3.0
    max_prompt_s: float = 12.0
    near_duplicate: float = 0.92
    url_timeout_s: float = 15.0
    allow_private_urls: bool = False
    """Only for tests and trusted networks: lets URL fetches reach loopback/private addresses."""
    max_channels: int = 2
    """Most channels a clip may have (checked from the header and while decoding)."""
    max_sample_rate: int = 96000
    max_decoded_mb: float = 128.0
    """Decoded PCM of all channels as 32-bit floats, in MiB: bounds what a small compressed file can cost."""
    analysis_workers: int = 2
    """Worker processes for enroll/check analysis (the models live there, never in the daemon)."""
    max_queued_analyses: int = 8
    """Analyses that may wait for a worker; more are refused as busy (HTTP 503 + Retry-After)."""
    analysis_idle_ttl_s: float = 300.0
    """Analysis workers exit (giving their models' memory back) after this long without work; 0 = never."""
    allowed_hosts: tuple[str, ...] = ()
    """Hosts ("nas.local") or host:port ("192.168.1.10:8123") that clip URLs may fetch from on the LAN."""
    analyze: bool = True
    """False stores clips as uploaded (no trimming, transcription, embedding or quality gate)."""

    @property
    def decode_limits(self) -> Any:
        """What decoding one clip may cost (hub.audio.DecodeLimits)."""
        from hub.audio import DecodeLimits

        return DecodeLimits(self.max_seconds, self.max_channels, self.max_sample_rate,
                            int(self.max_decoded_mb * (1 << 20)))  # fmt: skip

    def validate(self) -> None:
        for key in ("max_upload_mb", "max_seconds", "url_timeout_s", "max_channels", "max_sample_rate",
                    "max_decoded_mb", "analysis_workers"):  # fmt: skip
            check_positive(f"enroll.{key}", getattr(self, key))
        if self.max_queued_analyses < 0:
            raise ConfigError(f"enroll.max_queued_analyses must be >= 0, got {self.max_queued_analyses}")
        if self.analysis_idle_ttl_s < 0:
            raise ConfigError(
                f"enroll.analysis_idle_ttl_s must be >= 0 (0 = never exit), got {self.analysis_idle_ttl_s}"
            )
        if not 0 < self.min_prompt_s <= self.max_prompt_s:
            raise ConfigError(
                f"enroll.min_prompt_s ({self.min_prompt_s}) must be > 0 and <= enroll.max_prompt_s "
                f"({self.max_prompt_s})"
            )


@dataclass(frozen=True)
class JobsSettings:
    """Long-form jobs (hub.jobs): chunking, joins, retries and webhooks."""

    max_chunk_chars: int = 500
    max_input_mb: float = 20.0
    pause_ms: int = 250
    chapter_pause_ms: int = 1000
    loudness_lufs: float = -18.0
    retries: int = 2
    reserved_workers: int = 1
    pause_for_listeners: bool = True
    """Stop (SIGSTOP) a worker in the middle of a job chunk while a listener's sentence is synthesized."""
    """Workers of an engine that job chunks leave free for listeners (an engine with one worker lends it)."""
    webhook_secret: str = ""
    webhook_retries: int = 5
    webhook_backoff_s: float = 1.0
    webhook_timeout_s: float = 10.0
    allowed_hosts: tuple[str, ...] = ()
    allow_private_webhooks: bool = False

    def validate(self) -> None:
        for key in ("max_chunk_chars", "max_input_mb", "webhook_backoff_s", "webhook_timeout_s"):
            check_positive(f"jobs.{key}", getattr(self, key))
        for key in ("pause_ms", "chapter_pause_ms", "retries", "reserved_workers", "webhook_retries"):
            if getattr(self, key) < 0:
                raise ConfigError(f"jobs.{key} must be >= 0, got {getattr(self, key)}")
        if self.max_chunk_chars < 40:
            raise ConfigError(f"jobs.max_chunk_chars must be at least 40, got {self.max_chunk_chars}")
        if self.webhook_secret and not self.webhook_secret.startswith("whsec_"):
            raise ConfigError(
                "jobs.webhook_secret must look like whsec_<base64>, as Standard Webhooks secrets do"
            )


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
