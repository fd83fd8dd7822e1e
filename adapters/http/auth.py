"""API keys on the HTTP API: who may call which route, and a brake on guessing.

Keys are enforced when any exists (config or `voxhub keys create`) or when the host is not loopback.
Routes need the `speak` scope unless they change the library: POST and DELETE (any route not listed in
SPEAK_ROUTES, adapters' routes included) need `admin`. A client (IP address) that sends more than
`http.auth_failures_per_minute` wrong keys in a minute gets 429 with Retry-After for any key it sends
until the minute is over (requests without a key are not guesses: they get 401).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from adapters.http.errors import Handler
from adapters.http.guard import AUTHENTICATED
from hub.api import Forbidden, HttpSettings, Hub, TooManyRequests, Unauthorized

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SPEAK_ROUTES = frozenset({("POST", "/v1/audio/speech"), ("POST", "/v1/quality"), ("POST", "/v1/jobs"),
                          ("DELETE", "/v1/jobs/{job_id}")})  # fmt: skip
"""Non-read routes a `speak` key may call: they synthesize or analyse and store no voice. A job's DELETE
checks further that a `speak` key is the one that created the job (adapters.http.jobs)."""
_WINDOW_S = 60.0
_MAX_CLIENTS = 10_000


def required_scope(method: str, route: str) -> str:
    """The scope a route needs: `speak` to read and speak, `admin` for everything else."""
    if method in READ_METHODS or (method, route) in SPEAK_ROUTES:
        return "speak"
    return "admin"


class FailureLimiter:
    """Failed key attempts per client in a sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, collections.deque[float]] = {}

    def retry_after(self, client: str) -> float:
        """Seconds this client must wait before its keys are looked at again (0: go ahead)."""
        failures = self._failures.get(client)
        if not failures:
            return 0.0
        now = time.monotonic()
        while failures and now - failures[0] > _WINDOW_S:
            failures.popleft()
        if len(failures) < self.per_minute:
            return 0.0
        return _WINDOW_S - (now - failures[0])

    def fail(self, client: str) -> None:
        if client not in self._failures and len(self._failures) >= _MAX_CLIENTS:
            self._failures.pop(next(iter(self._failures)))  # the oldest client: memory stays bounded
        self._failures.setdefault(client, collections.deque(maxlen=self.per_minute)).append(time.monotonic())


def bearer_token(request: web.Request) -> str:
    """The key sent as `Authorization: Bearer KEY`, or "" without one."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def auth_middleware(settings: HttpSettings, hub: Hub, is_open: Callable[[web.Request], bool]) -> Any:
    """The middleware: 401 without a valid key, 403 when its scope is too narrow, 429 after many failures."""
    limiter = FailureLimiter(settings.auth_failures_per_minute)

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_open(request) or not (settings.keys_required or await hub.keys_in_use()):
            return await handler(request)
        client = request.remote or "?"
        token = bearer_token(request)
        if token and (wait := limiter.retry_after(client)) > 0:
            raise TooManyRequests(
                f"too many wrong API keys from {client}: wait {wait:.0f} s (the limit is "
                f"http.auth_failures_per_minute = {limiter.per_minute})",
                retry_after=wait,
            )
        scope = await hub.key_scope(token) if token else None
        if scope is None:
            if token:  # a wrong key is a guess; a missing one is not
                limiter.fail(client)
            raise Unauthorized(
                "missing or invalid API key: send `Authorization: Bearer <key>` with a key from "
                "`voxhub keys create NAME` or http.api_keys"
            )
        route = request.match_info.route.resource
        path = route.canonical if route is not None else request.path
        needed = required_scope(request.method, path)
        if needed == "admin" and scope != "admin":
            raise Forbidden(
                f"this key's scope is {scope!r}; {request.method} {path} needs an admin key: create one "
                "with `voxhub keys create NAME --scope admin`",
                code="insufficient_scope",
            )
        request[AUTHENTICATED] = scope
        return await handler(request)

    return auth
