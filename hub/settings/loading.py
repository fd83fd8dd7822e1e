"""Settings built once at the edge, then handed down: the whole `Settings` tree and how it is loaded.

Order (later wins): the packaged defaults (`config/voxhub.toml`, shipped as `hub/defaults.toml`), an
optional user file (`--config`), then environment variables `VOXHUB_<SECTION>__<KEY>` (for engines:
`VOXHUB_ENGINES__<ENGINE>__<KEY>`) and `VOXHUB_DATA_DIR`.
"""

from __future__ import annotations

import os
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.settings.fields import coerce, parse_section
from hub.settings.sections import (
    AdapterSettings,
    AsrSettings,
    CacheSettings,
    EngineSettings,
    EnrollSettings,
    HttpSettings,
    JobsSettings,
    LogSettings,
    QualitySettings,
    TextSettings,
    VoicesSettings,
)

DEFAULTS_FILE = Path(__file__).parents[1] / "defaults.toml"
ENV_PREFIX = "VOXHUB_"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    http: HttpSettings = field(default_factory=HttpSettings)
    text: TextSettings = field(default_factory=TextSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    voices: VoicesSettings = field(default_factory=VoicesSettings)
    log: LogSettings = field(default_factory=LogSettings)
    asr: AsrSettings = field(default_factory=AsrSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    enroll: EnrollSettings = field(default_factory=EnrollSettings)
    jobs: JobsSettings = field(default_factory=JobsSettings)
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
        kwargs[name] = parse_section(cls, name, tree.pop(name, {}))
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
            enabled=coerce(f"adapters.{name}.enabled", bool, section.get("enabled", False)),
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
    built = parse_section(EngineSettings, f"engines.{name}", {**common, "name": name})
    return replace(built, options=types.MappingProxyType(options))


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
