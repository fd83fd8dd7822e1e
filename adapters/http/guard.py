"""The browser guard: no web page the user happens to visit may drive the hub.

A page on another site can send a "simple" cross-origin POST (a no-cors multipart form enrolling a voice),
and DNS rebinding (evil.example resolving to 127.0.0.1) lets it read and delete voices as if it were the
hub itself. Two checks stop both, for every route of the app (a web UI mounted later included):

- Host: a loopback name or address, an IP literal (a rebinding page always sends its own domain name),
  the bound host, this machine's name, or a name in `http.allowed_hosts` (e.g. behind a reverse proxy).
- Origin, on state-changing methods, when the browser sends one: same origin as the Host, or listed in
  `http.allowed_origins`. Clients that are not browsers (the openai SDK, curl) send no Origin.

Exempt: `/health` (probes by container or service names), the static docs, remembered clips (fetched
by media players by their random id), adapters' public routes (they authenticate requests themselves),
and requests that carried a valid API key: a rebinding or cross-site page does not have one, so a LAN
client may use any name for the hub (homeassistant.local) once keys are on.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web
from yarl import URL

from adapters.http.errors import Handler
from hub.api import Forbidden, HttpSettings

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_RequestKey = getattr(web, "RequestKey", None)  # aiohttp >= 3.13 warns about plain string keys
AUTHENTICATED: Any = _RequestKey("voxhub.key_scope", str) if _RequestKey else "voxhub.key_scope"
"""Set on a request by the key check (adapters.http.auth) when it carried a valid key: the guard lets it pass."""
_WILDCARDS = ("0.0.0.0", "::", "")


def allowed_host_names(settings: HttpSettings) -> frozenset[str]:
    """Host names (lower case, no port) the API answers to, besides IP literals."""
    names = {"localhost"}
    if settings.host not in _WILDCARDS:
        names.add(settings.host.lower())
    try:
        machine = socket.gethostname().lower()
    except OSError:  # pragma: no cover - no hostname at all
        machine = ""
    if machine:
        names.update({machine, f"{machine}.local"})
    names.update(h.lower() for h in settings.allowed_hosts)
    return frozenset(names)


def _host_ok(host: str | None, names: frozenset[str]) -> bool:
    if not host:
        return False
    host = host.lower().rstrip(".")
    if host in names or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _split_host(header: str) -> str | None:
    try:
        return URL(f"http://{header}").host
    except ValueError:
        return None


def browser_guard(settings: HttpSettings, exempt: Callable[[web.Request], bool]) -> Any:
    """The middleware enforcing the Host and Origin rules above (403 naming the setting that allows it)."""
    names = allowed_host_names(settings)
    any_host = "*" in settings.allowed_hosts
    origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if exempt(request) or request.get(AUTHENTICATED):
            return await handler(request)
        header = request.headers.get("Host", "")
        # Browsers always send Host; a request without one (HTTP/1.0 tools) cannot be a rebinding page.
        if header and not any_host and not _host_ok(_split_host(header), names):
            raise Forbidden(
                f"requests for host {header!r} are refused (a web page using DNS rebinding sends its own "
                "name): reach the hub by localhost or its address, or add the name to http.allowed_hosts",
                param="Host",
                code="host_not_allowed",
            )
        origin = request.headers.get("Origin")
        if request.method in STATE_CHANGING and origin is not None:
            same = origin.lower() in (f"http://{header}".lower(), f"https://{header}".lower())
            if not same and origin.rstrip("/").lower() not in origins:
                raise Forbidden(
                    f"cross-origin {request.method} from {origin!r} refused (a web page may not change "
                    "the hub): add the origin to http.allowed_origins to allow it",
                    param="Origin",
                    code="origin_not_allowed",
                )
        return await handler(request)

    return guard
