"""The error hierarchy. Each error knows its HTTP status, its OpenAI error type/code and a Wyoming code.

Errors raised for bad input say what is wrong and how to fix it; they never leave partial state behind.
"""

from __future__ import annotations

from typing import Any

# The errors engines may raise live in the engine core, so workers never import the hub; re-exported here.
from engines.core.errors import (
    ConfigError,
    EngineError,
    EngineUnavailable,
    InvalidOption,
    InvalidRequest,
    ModelMissing,
    RemoteError,
    VoxhubError,
)

__all__ = ["ConfigError", "EngineError", "EngineUnavailable", "InvalidOption", "InvalidRequest",
           "ModelMissing", "RemoteError", "VoxhubError"]  # fmt: skip


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


class UploadTooLarge(InvalidRequest):
    status = 413
    code = "upload_too_large"


class ConsentRequired(InvalidRequest):
    """Enrolling a cloned voice without the enroller's confirmation that the speaker consented."""

    code = "consent_required"
