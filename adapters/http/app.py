"""The HTTP adapter: the OpenAI-compatible API, the web UI and the routes other adapters mount, on one
aiohttp server. It starts after the other adapters (so their routes are in) and tells the hub its URL."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from adapters.http import jobs, routes, ui
from adapters.http.auth import auth_middleware
from adapters.http.context import HUB_KEY, SETTINGS_KEY
from adapters.http.errors import error_middleware
from adapters.http.guard import browser_guard
from adapters.http.speech import speech
from hub.api import HttpSettings, Hub

log = logging.getLogger("voxhub.http")

OPEN_PATHS = frozenset({"/health", "/docs", "/openapi.json", "/"})
"""Served without a key and without the browser guard (see adapters.http.guard)."""


def create_app(hub: Hub, settings: HttpSettings) -> web.Application:
    public_paths = {r.path for r in hub.http_routes if r.public}

    def unguarded(request: web.Request) -> bool:
        path = request.path
        return (
            path in OPEN_PATHS
            or path in public_paths
            or path.startswith(routes.CLIPS_PATH)
            # The UI's files carry no data; the API calls they make are checked as any other.
            or (settings.ui and ui.is_open(path))
            # Home Assistant signed an admin in before its Supervisor proxied the request to the panel.
            or ui.trusted_ingress(request, settings)
        )

    app = web.Application(
        middlewares=[
            error_middleware,
            # Keys first: a request that proves a key cannot come from a rebinding or cross-site page (it
            # would need the key), so the browser guard only judges requests made without one.
            auth_middleware(settings, hub, unguarded),
            browser_guard(settings, unguarded),
        ],
        client_max_size=int(settings.max_body_mb * (1 << 20)),
    )
    app[HUB_KEY] = hub
    app[SETTINGS_KEY] = settings
    app.router.add_post("/v1/audio/speech", speech)
    routes.add_routes(app)
    if settings.ui:
        ui.mount(app)
    else:
        app.router.add_get("/", _to_docs)
    jobs.add_routes(app)
    for route in hub.http_routes:  # mounted by adapters (e.g. Slack's /slack/events)
        app.router.add_route(route.method, route.path, route.handler)
    return app


async def _to_docs(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/docs")


class HttpAdapter:
    """Serves the app on http.host:http.port from `start` to `stop`."""

    def __init__(self, hub: Hub, settings: HttpSettings) -> None:
        self.hub = hub
        self.settings = settings
        self._runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self) -> None:
        """Bind and serve; prints (and tells the hub) the address actually bound. A taken port is fatal."""
        settings = self.settings
        runner = web.AppRunner(create_app(self.hub, settings), access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise SystemExit(
                f"cannot listen on {settings.host}:{settings.port}: {exc}; set http.port to a free port"
            ) from None
        self._runner = runner
        for sock in getattr(site._server, "sockets", None) or ():
            host, port = sock.getsockname()[:2]
            url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
            self.url = self.url or url
            print(f"voxhub listening on {url}", flush=True)
        if self.url:
            self.hub.set_http_url(self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def run_server(hub: Hub, settings: HttpSettings, stop: asyncio.Event) -> None:
    """Serve until `stop` is set."""
    adapter = HttpAdapter(hub, settings)
    await adapter.start()
    try:
        await stop.wait()
    finally:
        await adapter.stop()
