"""Pluggable parts named as strings (`module:attr`) and imported only when chosen (engines and the hub)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType


def load(registry: Mapping[str, str], name: str, kind: str) -> type:
    """Import the class registered under `name`; KeyError lists the known names."""
    try:
        target = registry[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(registry))}") from None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def load_module(registry: Mapping[str, str], name: str, kind: str) -> ModuleType:
    """Import the module registered under `name`; KeyError lists the known names."""
    try:
        target = registry[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(registry))}") from None
    return importlib.import_module(target)
