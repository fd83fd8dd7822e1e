"""One settings section parsed from its table: each key checked and converted by its field's type, with the
same coercion as engine options (engines.core.options: env strings, bool words, choices), errors naming
`section.key` and the fix; and the range checks sections share."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from engines.core.options import TYPES, Option
from hub.errors import ConfigError

_OPTION_TYPES = {kind: name for name, kind in TYPES.items()}


def parse_section(cls: type, prefix: str, values: Any) -> Any:
    """Build a frozen settings dataclass from a table, converting environment strings by field type.

    Adapters and engines use it for their own sections; errors name `prefix.key` and the fix. A field's
    metadata may list its `choices` (`field(default="auto", metadata={"choices": ("auto", "http")})`).
    """
    if not isinstance(values, dict):
        raise ConfigError(f"[{prefix}] must be a table, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{prefix}.{k}' for k in sorted(unknown))}: "
            f"valid keys in [{prefix}] are {', '.join(sorted(known))}"
        )
    kwargs = {}
    for key, value in values.items():
        kwargs[key] = coerce(f"{prefix}.{key}", hints[key], value, known[key].metadata.get("choices", ()))
    return cls(**kwargs)


def coerce(key: str, hint: Any, value: Any, choices: tuple[str, ...] = ()) -> Any:
    """Check (and for environment strings, convert) `value` against the field's type, and its `choices`."""
    origin = typing.get_origin(hint)
    try:
        if hint in _OPTION_TYPES:
            if isinstance(value, str) and not value.strip() and hint is not str:
                raise ValueError  # an empty environment variable is a mistake, not "unset"
            value = Option(key, _OPTION_TYPES[hint]).coerce(value)
        elif hint is Path:
            return Path(_exact(value, str))
        elif origin is tuple:
            if isinstance(value, str):
                value = [item.strip() for item in value.split(",") if item.strip()]
            return tuple(_exact(item, str) for item in _exact(value, list))
        elif origin in (Mapping, dict) or hint is Mapping:
            return types.MappingProxyType(dict(_exact(value, dict)))
    except (ValueError, TypeError, OverflowError):
        expected = getattr(hint, "__name__", str(hint))
        raise ConfigError(
            f"{key} = {value!r} is not a valid {expected}: fix the value in your config or environment"
        ) from None
    if choices:
        option = Option(key, _OPTION_TYPES[hint], choices=choices)
        try:
            return option.coerce(value)
        except ValueError:
            raise ConfigError(f"{key} = {value!r} is not valid: use {option.describe()}") from None
    return value


def _exact(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise TypeError
    return value


def check_port(key: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(f"{key} = {port} is not a TCP port: use 1-65535 (or 0 for any free port)")


def check_positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key} must be > 0, got {value}")
