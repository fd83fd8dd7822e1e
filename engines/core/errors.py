"""Errors an engine can raise, shared by the engines (in their workers) and the hub.

Each knows its HTTP status, OpenAI error type and code; the hub's own errors (hub.errors) subclass these,
so an error keeps its status, code and param whether it was raised in the daemon or in a worker.
"""

from __future__ import annotations

from typing import Any


class VoxhubError(Exception):
    """Base class: a problem that can be reported and gone on from."""

    status = 500
    type = "server_error"
    code = "internal_error"
    restart = False
    """True when the worker that raised it must be restarted before it serves again."""

    def __init__(self, message: str, *, param: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.extra = extra


class InvalidRequest(VoxhubError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class InvalidOption(InvalidRequest):
    """A request's `options` entry the engine's schema refuses (unknown name, wrong type, out of range)."""

    code = "invalid_option"


class EngineError(VoxhubError):
    """The engine rejected this request (the worker is fine)."""

    status = 422
    type = "invalid_request_error"
    code = "engine_error"


class EngineUnavailable(VoxhubError):
    """The engine's worker died or could not start; the request may be retried."""

    status = 503
    type = "server_error"
    code = "engine_unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0, restart: bool = False, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.restart = restart


class ModelMissing(VoxhubError):
    """A model the request needs is not installed; the message names the command that fetches it."""

    status = 503
    type = "server_error"
    code = "model_missing"


class ConfigError(Exception):
    """Invalid settings: stops start-up with a message naming the key and the fix."""


class RemoteError(VoxhubError):
    """An error raised in a worker, rebuilt on the hub's side with the status, type and code it had."""

    def __init__(
        self, message: str, *, status: int, type: str, code: str, restart: bool = False, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.status, self.type, self.code, self.restart = status, type, code, restart
