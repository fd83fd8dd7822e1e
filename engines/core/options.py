"""Options declared once per engine: a schema the hub validates requests against and lists in /v1/models.

The same rule coerces config values (`[engines.NAME]`, where environment variables arrive as strings) and
request `options`; only the error differs: ConfigError names the config key, InvalidOption (HTTP 400) the
request field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engines.core.errors import ConfigError, InvalidOption

TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One option an engine takes: its name, type, range or choices, default and a line of help."""

    name: str
    type: str
    """int | float | str | bool."""
    default: Any = None
    """None: unset (the engine decides, e.g. from the voice or the model)."""
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    audio: bool = True
    """False for options that cannot change the audio (they stay out of the synthesis cache key)."""

    def describe(self) -> str:
        """The accepted values in words, for error messages."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.type == "bool":
            return "true or false"
        noun = {"int": "an integer", "float": "a number", "str": "a string"}[self.type]
        if self.min is not None and self.max is not None:
            return f"{noun} from {self.min:g} to {self.max:g}"
        if self.min is not None:
            return f"{noun} >= {self.min:g}"
        return noun

    def coerce(self, value: Any) -> Any:
        """The value as this option's type, or ValueError (strings are converted: they come from env/forms)."""
        if isinstance(value, str) and not value.strip() and self.type != "str":
            return self.default
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
                return value.strip().lower() in _TRUE
            raise ValueError
        if isinstance(value, bool):
            raise ValueError
        if self.type == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise ValueError
            return value
        if self.type == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            result: float = int(value) if isinstance(value, (int, float)) else int(str(value).strip())
        else:
            result = float(value)
        if not math.isfinite(result):
            raise ValueError
        if (self.min is not None and result < self.min) or (self.max is not None and result > self.max):
            raise ValueError
        return result

    def to_dict(self) -> dict[str, Any]:
        """As /v1/models lists it."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
        }
        if self.min is not None:
            data["min"] = self.min
        if self.max is not None:
            data["max"] = self.max
        if self.choices:
            data["choices"] = list(self.choices)
        if not self.audio:
            data["audio"] = False
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Option:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["choices"] = tuple(fields.get("choices", ()))
        return cls(**fields)


def parse_options(schema: Iterable[Option], values: Mapping[str, Any], engine: str) -> dict[str, Any]:
    """A request's `options` checked against `schema`: the given ones, coerced. InvalidOption otherwise."""
    known = {option.name: option for option in schema}
    result: dict[str, Any] = {}
    for key, value in values.items():
        option = known.get(key)
        if option is None:
            names = ", ".join(sorted(known)) or "none"
            raise InvalidOption(
                f"options.{key}: the {engine} engine has no such option; its options are {names} "
                "(GET /v1/models lists them)",
                param=f"options.{key}",
            )
        try:
            result[key] = option.coerce(value)
        except (TypeError, ValueError, OverflowError):
            raise InvalidOption(
                f"options.{key} = {value!r} is not valid for the {engine} engine: use {option.describe()}",
                param=f"options.{key}",
            ) from None
    return result


def parse_config(schema: Iterable[Option], values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """An engine's config section checked against `schema`, defaults filled in; ConfigError names the key."""
    known = {option.name: option for option in schema}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{prefix}.{k}' for k in unknown)}: valid keys are "
            f"{', '.join(sorted(known))}"
        )
    result = {name: option.default for name, option in known.items()}
    for key, value in values.items():
        try:
            result[key] = known[key].coerce(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(
                f"{prefix}.{key} = {value!r} is not valid: use {known[key].describe()} (fix it in your config "
                "or environment)"
            ) from None
    return result
