"""The engine core: the only voxhub code both the hub and the engines import.

The engine interface (interface), the worker protocol (protocol), errors, options schema, PCM and
model-file helpers. It imports nothing of the hub, so an engine's worker runs in any environment that
has this package, the engine and the engine's own dependencies.
"""
