"""Typed, frozen settings: built once at the edge from TOML files and the environment, then handed down.

Modules: sections (each section's keys, defaults and checks), fields (parsing one section's table by field
type: `parse_section`, which adapters use too), loading (the `Settings` tree, `load_settings`: defaults,
user file, environment and overrides merged).
"""

from hub.settings.fields import parse_section
from hub.settings.loading import DEFAULTS_FILE, ENV_PREFIX, Settings, load_settings
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
    is_loopback,
)

__all__ = [
    "DEFAULTS_FILE",
    "ENV_PREFIX",
    "AdapterSettings",
    "AsrSettings",
    "CacheSettings",
    "EngineSettings",
    "EnrollSettings",
    "HttpSettings",
    "JobsSettings",
    "LogSettings",
    "QualitySettings",
    "Settings",
    "TextSettings",
    "VoicesSettings",
    "is_loopback",
    "load_settings",
    "parse_section",
]
