"""What the hub offers adapters besides speech: routes on the daemon's HTTP server, the server's URL once it
listens, and a place in the health report. Hub inherits it; adapters reach it through the facade."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.errors import ConfigError


@dataclass(frozen=True)
class HttpRoute:
    """A route an adapter serves on the daemon's HTTP server (e.g. Slack's POST /slack/events)."""

    method: str
    path: str
    handler: Callable[[Any], Any]
    """An aiohttp handler: `async (request) -> response`."""
    public: bool = False
    """True: no API key is asked for (the adapter authenticates the request itself, e.g. by signature)."""


class AdapterHost:
    """The adapters' hooks into the daemon (part of the Hub facade)."""

    def __init__(self) -> None:
        self.adapters: dict[str, Any] = {}
        """Started adapters by name (see `register_adapter`), for the health report."""
        self.http_routes: list[HttpRoute] = []
        """Routes adapters mount on the daemon's HTTP server (see `add_http_route`)."""
        self._http_url: asyncio.Future[str] | None = None

    def register_adapter(self, name: str, adapter: Any) -> None:
        """List a started adapter in `health()`; its optional `status()` returns {"state", "reason"?}."""
        self.adapters[name] = adapter

    def add_http_route(
        self, method: str, path: str, handler: Callable[[Any], Any], *, public: bool = False
    ) -> None:
        """Serve `handler` at `path` on the daemon's HTTP server; call from an adapter's `start()` (the HTTP
        adapter starts after the others). `public` routes skip the API key: the adapter must authenticate them."""
        if any(r.method == method.upper() and r.path == path for r in self.http_routes):
            raise ConfigError(f"two adapters want to serve {method} {path}: enable only one of them")
        self.http_routes.append(HttpRoute(method.upper(), path, handler, public))

    @property
    def http_url(self) -> str | None:
        """The HTTP server's base URL once it listens (e.g. http://127.0.0.1:8700), else None."""
        future = self._http_url
        return future.result() if future is not None and future.done() else None

    def set_http_url(self, url: str) -> None:
        """Called by the HTTP adapter once it listens; wakes `wait_http_url`."""
        if self.http_url is None:
            self._url_future().set_result(url)

    async def wait_http_url(self, timeout_s: float) -> str | None:
        """The HTTP server's base URL, waiting up to `timeout_s` for it to listen; None if it does not."""
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(self._url_future()), timeout_s)
        return None

    def _url_future(self) -> asyncio.Future[str]:
        if self._http_url is None:
            self._http_url = asyncio.get_running_loop().create_future()
        return self._http_url
