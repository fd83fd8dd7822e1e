"""Every HTTP error leaves in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub.api import EngineUnavailable, TooManyRequests, VoxhubError

log = logging.getLogger("voxhub.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HTTP_TYPES = {401: "invalid_request_error", 404: "invalid_request_error", 405: "invalid_request_error",
               413: "invalid_request_error", 415: "invalid_request_error"}  # fmt: skip


def openai_error(exc: VoxhubError) -> dict[str, Any]:
    """The body OpenAI's API uses for errors: message, type, param, code (and the error's extra fields)."""
    return {
        "error": {"message": exc.message, "type": exc.type, "param": exc.param, "code": exc.code, **exc.extra}
    }


def error_response(exc: VoxhubError) -> web.Response:
    headers = {}
    if isinstance(exc, (EngineUnavailable, TooManyRequests)):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return web.json_response(openai_error(exc), status=exc.status, headers=headers)


def http_error(status: int, message: str, code: str, param: str | None = None) -> web.Response:
    body = {
        "error": {
            "message": message,
            "type": _HTTP_TYPES.get(status, "server_error"),
            "param": param,
            "code": code,
        }
    }
    return web.json_response(body, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except VoxhubError as exc:
        if exc.status >= 500:
            log.warning("%s %s: %s", request.method, request.path, exc.message)
        return error_response(exc)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app._client_max_size
        message = f"request body too large (the limit is {limit} bytes): send less, or raise http.max_body_mb"
        return http_error(413, message, "body_too_large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return http_error(
                404, f"no route {request.method} {request.path}: see /docs for the API", "not_found"
            )
        if exc.status == 405:
            return http_error(
                405, f"method {request.method} is not allowed on {request.path}", "method_not_allowed"
            )
        return http_error(exc.status, exc.reason, "http_error")
    except Exception:
        # A bug, not bad input: still OpenAI's shape (clients parse it), with the details in the log.
        log.exception("%s %s failed", request.method, request.path)
        return http_error(500, "internal error: the daemon's log has the details", "internal_error")
