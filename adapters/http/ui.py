"""The web UI: static pages under /ui/, and who may reach the API through Home Assistant ingress.

The pages are plain HTML/CSS/JS modules in adapters/http/static/ui (no build step, no CDN). Every URL they use is
relative, so the same files work at http://host:8700/ui/ and under the Supervisor's
/api/hassio_ingress/<token>/ prefix.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from aiohttp import web

from hub.api import HttpSettings

STATIC = Path(__file__).resolve().parent / "static" / "ui"
UI_PREFIX = "/ui/"
INGRESS_HEADER = "X-Ingress-Path"


def mount(app: web.Application) -> None:
    """Serve the UI at /ui/; `/` and `/ui` redirect there (relative, so a proxy's prefix is kept)."""
    app.router.add_get("/", _to_ui)
    app.router.add_get("/ui", _to_ui)
    app.router.add_get(UI_PREFIX, _index)
    app.router.add_static(UI_PREFIX, STATIC, append_version=False)


def is_open(path: str) -> bool:
    """The UI's own files carry no data: they load without an API key (the API calls still need one)."""
    return path == "/ui" or path.startswith(UI_PREFIX)


def trusted_ingress(request: web.Request, settings: HttpSettings) -> bool:
    """A request the Home Assistant Supervisor proxied: X-Ingress-Path from a trusted proxy's address.

    The header alone proves nothing (anyone can send it); only the proxy's source address counts.
    """
    if INGRESS_HEADER not in request.headers or not settings.ingress_proxies:
        return False
    try:
        remote = ipaddress.ip_address(request.remote or "")
    except ValueError:  # a Unix socket or an unknown peer
        return False
    return any(remote == ipaddress.ip_address(proxy) for proxy in settings.ingress_proxies)


async def _to_ui(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("ui/")


async def _index(request: web.Request) -> web.FileResponse:
    # no-cache: after an upgrade the browser asks again instead of mixing old pages with new modules.
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})
