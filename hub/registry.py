"""Pluggable parts named as strings (`module:attr`): the loader lives in engines.core, shared with engines."""

from engines.core.registry import load, load_module

__all__ = ["load", "load_module"]
