"""The error hierarchy. Each error knows its HTTP status, its OpenAI error type/code and a Wyoming code.

Errors raised for bad input say what is wrong and how to fix it; they never leave partial state behind.
"""

from __future__ import annotations

from typing import Any


class VoxhubError(Exception):
    """Base class: a problem the hub can report and go on from."""

    status = 500
    type = "server_error"
    code = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.extra = extra

    def to_openai(self) -> dict[str, Any]:
        """The body OpenAI's API uses for errors."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code,
        }
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(VoxhubError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class UnsupportedFormat(InvalidRequest):
    code = "unsupported_format"


class TextTooLong(InvalidRequest):
    status = 413
    code = "input_too_long"


class EmptyText(InvalidRequest):
    code = "empty_input"


class BadAudio(InvalidRequest):
    code = "bad_audio"


class InvalidVoiceName(InvalidRequest):
    code = "invalid_voice_name"


class VoiceNotFound(VoxhubError):
    status = 404
    type = "invalid_request_error"
    code = "voice_not_found"


class NotFound(VoxhubError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class VoiceExists(VoxhubError):
    status = 409
    type = "invalid_request_error"
    code = "voice_exists"


class Unauthorized(VoxhubError):
    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class Forbidden(VoxhubError):
    """Refused whatever the key: a browser's cross-site request, or a key whose scope is too narrow."""

    status = 403
    type = "permission_error"
    code = "forbidden"

    def __init__(self, message: str, *, code: str = "forbidden", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.code = code


class EngineUnavailable(VoxhubError):
    """The engine's worker died or could not start; the request may be retried."""

    status = 503
    type = "server_error"
    code = "engine_unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class EngineError(VoxhubError):
    """The engine rejected this request (the worker is fine)."""

    status = 422
    type = "invalid_request_error"
    code = "engine_error"


class ConfigError(Exception):
    """Invalid settings: stops start-up with a message naming the key and the fix."""


class StorageError(VoxhubError):
    """The data directory cannot be written (disk full, read-only, no permission); nothing was stored."""

    status = 507
    type = "server_error"
    code = "storage_unavailable"


class TooManyRequests(VoxhubError):
    """A client that must slow down (e.g. too many wrong API keys); Retry-After says for how long."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 60.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class WrongContentType(InvalidRequest):
    status = 415
    code = "wrong_content_type"


class ModelMissing(VoxhubError):
    """A model the request needs is not installed; the message names the command that fetches it."""

    status = 503
    type = "server_error"
    code = "model_missing"


class UploadTooLarge(InvalidRequest):
    status = 413
    code = "upload_too_large"
