"""A stand-in for Home Assistant's Supervisor: serves the daemon under /api/hassio_ingress/<token>/."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass
class IngressProxy:
    """Strips the prefix, adds X-Ingress-Path as the Supervisor does, and records every request path."""

    upstream: str
    token: str = "Xk3_test-token"
    requests: list[str] = field(default_factory=list)
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None

    @property
    def prefix(self) -> str:
        return f"/api/hassio_ingress/{self.token}"

    def escaped(self) -> list[str]:
        """Requests the browser sent outside the ingress prefix (a URL in the UI that is not relative)."""
        return [path for path in self.requests if not path.startswith(self.prefix + "/")]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if not request.path.startswith(self.prefix + "/"):
            return web.Response(status=404, text="outside the ingress prefix")
        path = request.path_qs[len(self.prefix) :]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        headers["X-Ingress-Path"] = self.prefix
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                self.upstream + path,
                headers=headers,
                data=await request.read(),
                allow_redirects=False,
            ) as upstream,  # fmt: skip
        ):
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in HOP},
            )
            await response.prepare(request)
            async for data in upstream.content.iter_any():  # streamed, as with ingress_stream
                await response.write(data)
            await response.write_eof()
            return response

    def start(self) -> IngressProxy:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{port}{self.prefix}/"
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
