"""Pluggable parts named as strings (`module:attr`) and imported only when chosen."""

from __future__ import annotations

import importlib
from collections.abc import Mapping


def load(registry: Mapping[str, str], name: str, kind: str) -> type:
    """Import the class registered under `name`; KeyError lists the known names."""
    try:
        target = registry[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(registry))}") from None
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
