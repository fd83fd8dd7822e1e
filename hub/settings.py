"""Typed, frozen settings: built once at the edge from TOML files and the environment, then handed down.

Order (later wins): the packaged defaults (`config/voxhub.toml`, shipped as `hub/defaults.toml`), an
optional user file (`--config`), then environment variables `VOXHUB_<SECTION>__<KEY>` (for engines:
`VOXHUB_ENGINES__<ENGINE>__<KEY>`) and `VOXHUB_DATA_DIR`.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hub.errors import ConfigError

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
ENV_PREFIX = "VOXHUB_"


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8700
    api_keys: tuple[str, ...] = ()
    require_api_key: str = "auto"
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
        _check_port("http.port", self.port)
        _check_choice("http.require_api_key", self.require_api_key, ("auto", "always", "never"))
        _check_positive("http.auth_failures_per_minute", self.auth_failures_per_minute)
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
        _check_positive("text.max_chars", self.max_chars)


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
        _check_positive(f"{key}.workers", self.workers)
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
    level: str = "info"

    def validate(self) -> None:
        _check_choice("log.level", self.level, ("debug", "info", "warning", "error"))


@dataclass(frozen=True)
class AsrSettings:
    backend: str = "faster-whisper"
    model: str = "base"
    """Whisper size: tiny, base, small, medium, large-v3 (fetch with `voxhub models pull`)."""
    device: str = "auto"
    threads: int = 0

    def validate(self) -> None:
        _check_choice("asr.backend", self.backend, ("faster-whisper", "openai-whisper"))
        _check_choice("asr.device", self.device, ("auto", "cpu", "cuda"))
        if self.threads < 0:
            raise ConfigError(f"asr.threads must be >= 0 (0 = all cores), got {self.threads}")


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds of the quality check (hub/quality.py): each finding's severity and the verdict."""

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
            _check_positive(f"enroll.{key}", getattr(self, key))
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
            _check_positive(f"jobs.{key}", getattr(self, key))
        for key in ("pause_ms", "chapter_pause_ms", "retries", "reserved_workers", "webhook_retries"):
            if getattr(self, key) < 0:
                raise ConfigError(f"jobs.{key} must be >= 0, got {getattr(self, key)}")
        if self.max_chunk_chars < 40:
            raise ConfigError(f"jobs.max_chunk_chars must be at least 40, got {self.max_chunk_chars}")
        if self.webhook_secret and not self.webhook_secret.startswith("whsec_"):
            raise ConfigError(
                "jobs.webhook_secret must look like whsec_<base64>, as Standard Webhooks secrets do"
            )


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    http: HttpSettings = HttpSettings()
    text: TextSettings = TextSettings()
    cache: CacheSettings = CacheSettings()
    voices: VoicesSettings = VoicesSettings()
    log: LogSettings = LogSettings()
    asr: AsrSettings = AsrSettings()
    quality: QualitySettings = QualitySettings()
    enroll: EnrollSettings = EnrollSettings()
    jobs: JobsSettings = JobsSettings()
    engines: Mapping[str, EngineSettings] = field(default_factory=dict)
    adapters: Mapping[str, AdapterSettings] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "voxhub.db"

    @property
    def enabled_engines(self) -> list[EngineSettings]:
        return [e for e in self.engines.values() if e.enabled]

    @property
    def enabled_adapters(self) -> list[AdapterSettings]:
        return [a for a in self.adapters.values() if a.enabled]

    def validate(self) -> Settings:
        sections: list[Any] = [self.http, self.text, self.cache, self.voices, self.log]
        sections += [self.asr, self.quality, self.enroll, self.jobs]
        sections += [*self.engines.values(), *self.adapters.values()]
        for section in sections:
            section.validate()
        if not self.enabled_engines:
            raise ConfigError("no engine is enabled: set engines.piper.enabled = true (the offline default)")
        return self

    def with_changes(self, **sections: Any) -> Settings:
        return replace(self, **sections)


_SECTIONS: dict[str, type] = {
    "http": HttpSettings,
    "text": TextSettings,
    "cache": CacheSettings,
    "voices": VoicesSettings,
    "log": LogSettings,
    "asr": AsrSettings,
    "quality": QualitySettings,
    "enroll": EnrollSettings,
    "jobs": JobsSettings,
}


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build validated settings from the defaults, an optional user file, the environment and overrides."""
    env = os.environ if env is None else env
    tree = _read_toml(DEFAULTS_FILE)
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist: check the --config path")
        _merge(tree, _read_toml(path))
    _merge(tree, _env_tree(env))
    if overrides:
        _merge(tree, _nest(overrides))
    return _build(tree, env).validate()


def _build(tree: dict[str, Any], env: Mapping[str, str]) -> Settings:
    tree = dict(tree)
    data_dir = env.get("VOXHUB_DATA_DIR") or tree.pop("data_dir", "") or _default_data_dir()
    tree.pop("data_dir", None)
    kwargs: dict[str, Any] = {"data_dir": Path(data_dir).expanduser()}
    for name, cls in _SECTIONS.items():
        kwargs[name] = _section(cls, name, tree.pop(name, {}))
    engines_tree = tree.pop("engines", {})
    if not isinstance(engines_tree, dict):
        raise ConfigError("[engines] must be a table of engine sections, e.g. [engines.piper]")
    kwargs["engines"] = {name: _engine_section(name, section) for name, section in engines_tree.items()}
    adapters_tree = tree.pop("adapters", {})
    if not isinstance(adapters_tree, dict) or not all(isinstance(v, dict) for v in adapters_tree.values()):
        raise ConfigError("[adapters] must be a table of adapter sections, e.g. [adapters.wyoming]")
    kwargs["adapters"] = {
        name: AdapterSettings(
            name=name,
            enabled=_coerce(f"adapters.{name}.enabled", bool, section.get("enabled", False)),
            options=types.MappingProxyType({k: v for k, v in section.items() if k != "enabled"}),
        )
        for name, section in adapters_tree.items()
    }
    if tree:
        raise ConfigError(
            f"unknown setting(s) {', '.join(sorted(tree))}: known sections are "
            f"{', '.join(['data_dir', *_SECTIONS, 'engines', 'adapters'])}"
        )
    return Settings(**kwargs)


_ENGINE_KEYS = {f.name for f in fields(EngineSettings)} - {"name", "options"}


def _engine_section(name: str, section: Any) -> EngineSettings:
    if not isinstance(section, dict):
        raise ConfigError(f"engines.{name} must be a table ([engines.{name}])")
    common = {k: v for k, v in section.items() if k in _ENGINE_KEYS}
    options = {k: v for k, v in section.items() if k not in _ENGINE_KEYS}
    built = _section(EngineSettings, f"engines.{name}", {**common, "name": name})
    return replace(built, options=types.MappingProxyType(options))


def parse_section(cls: type, prefix: str, values: Any) -> Any:
    """Build a frozen settings dataclass from a table, converting environment strings by field type.

    Adapters and engines use it for their own sections; errors name `prefix.key` and the fix.
    """
    return _section(cls, prefix, values)


def _section(cls: type, prefix: str, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{prefix}] must be a table, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{prefix}.{k}' for k in sorted(unknown))}: "
            f"valid keys in [{prefix}] are {', '.join(sorted(known))}"
        )
    kwargs = {key: _coerce(f"{prefix}.{key}", hints[key], value) for key, value in values.items()}
    return cls(**kwargs)


def _coerce(key: str, hint: Any, value: Any) -> Any:
    """Check (and for environment strings, convert) `value` against the field's type."""
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if not isinstance(value, bool):
                raise ValueError
            return value
        if hint is int:
            if isinstance(value, bool):
                raise ValueError
            return int(value) if isinstance(value, str) else _exact(value, int)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value) if isinstance(value, (str, int)) else _exact(value, float)
        if hint is str:
            return _exact(value, str)
        if hint is Path:
            return Path(_exact(value, str))
        if origin is tuple:
            if isinstance(value, str):
                value = [item.strip() for item in value.split(",") if item.strip()]
            return tuple(_exact(item, str) for item in _exact(value, list))
        if origin in (Mapping, dict) or hint is Mapping:
            return types.MappingProxyType(dict(_exact(value, dict)))
    except (ValueError, TypeError):
        expected = getattr(hint, "__name__", str(hint))
        raise ConfigError(
            f"{key} = {value!r} is not a valid {expected}: fix the value in your config or environment"
        ) from None
    return value


def _exact(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise TypeError
    return value


def _env_tree(env: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == "VOXHUB_DATA_DIR" or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def _default_data_dir() -> str:
    import platformdirs

    return platformdirs.user_data_dir("voxhub")


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port(key: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(f"{key} = {port} is not a TCP port: use 1-65535 (or 0 for any free port)")


def _check_positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key} must be > 0, got {value}")


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{key} = {value!r} is not valid: use one of {', '.join(choices)}")
