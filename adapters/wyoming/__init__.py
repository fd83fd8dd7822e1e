"""The Wyoming adapter: Home Assistant's Assist pipelines speak every voxhub voice over the Wyoming protocol.

`describe` lists one TTS program with every voice (presets and cloned, all engines); `synthesize` and the
streaming `synthesize-start/-chunk/-stop` events are translated to the Hub facade at INTERACTIVE priority.
Configured under [adapters.wyoming]; a connection's events are handled in server.py
(framing in events.py, the describe answer in describe.py), zeroconf discovery in discovery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from hub.api import ConfigError, Hub, parse_section

log = logging.getLogger("voxhub.wyoming")
REFUSAL_LOG_EVERY_S = 60.0


@dataclass(frozen=True)
class WyomingSettings:
    """[adapters.wyoming]: see config/voxhub.toml."""

    uri: str = "tcp://0.0.0.0:10200"
    """Where to listen: tcp://HOST:PORT (port 0 = any free port) or unix://PATH."""
    program: str = "voxhub"
    """The TTS program's name, shown by Home Assistant as the entity name."""
    samples_per_chunk: int = 1024
    """Audio samples per audio-chunk event (as wyoming-piper)."""
    zeroconf: bool = False
    """Announce the server as _wyoming._tcp over mDNS so Home Assistant discovers it."""
    zeroconf_name: str = ""
    """The announced instance name; empty = voxhub-<hostname>."""
    zeroconf_host: str = ""
    """The announced address; empty = this machine's address on the default route."""
    max_connections: int = 64
    """Open connections in all; more are answered with an error and closed."""
    max_connections_per_client: int = 16
    """Open connections from one client address."""
    idle_timeout_s: float = 120.0
    """A connection that sends nothing for this long (while no reply is being sent) is closed."""
    max_frame_bytes: int = 4 << 20
    """Largest data + payload of one event; a bigger claim closes the connection before anything is read."""
    max_stream_chars: int = 100_000
    """Most text one synthesize-start ... synthesize-stop stream may send; more ends it with an error."""

    def validate(self) -> WyomingSettings:
        parsed = urlparse(self.uri)
        hint = "use tcp://HOST:PORT (e.g. tcp://0.0.0.0:10200) or unix:///path/to/socket"
        if parsed.scheme == "tcp":
            try:
                port = parsed.port
            except ValueError:
                port = None
            if not parsed.hostname or port is None:
                raise ConfigError(f"adapters.wyoming.uri = {self.uri!r} has no host or valid port: {hint}")
        elif parsed.scheme != "unix" or not parsed.path:
            raise ConfigError(f"adapters.wyoming.uri = {self.uri!r} is not supported: {hint}")
        if self.samples_per_chunk < 1:
            raise ConfigError(
                f"adapters.wyoming.samples_per_chunk must be >= 1, got {self.samples_per_chunk}"
            )
        for key in ("max_connections", "max_connections_per_client", "max_frame_bytes", "max_stream_chars"):
            if getattr(self, key) < 1:
                raise ConfigError(f"adapters.wyoming.{key} must be >= 1, got {getattr(self, key)}")
        if self.idle_timeout_s <= 0:
            raise ConfigError(f"adapters.wyoming.idle_timeout_s must be > 0, got {self.idle_timeout_s}")
        if not self.program.strip():
            raise ConfigError("adapters.wyoming.program is empty: name the TTS program (e.g. voxhub)")
        return self


class WyomingAdapter:
    """Serves the Wyoming protocol on `uri` until stopped."""

    def __init__(self, hub: Hub, options: dict[str, Any]) -> None:
        self.hub = hub
        self.settings: WyomingSettings = parse_section(
            WyomingSettings, "adapters.wyoming", dict(options)
        ).validate()
        self.uri = ""
        """The address actually bound (with the real port when 0 was asked for)."""
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._per_client: dict[str, int] = {}
        self._refusals: set[asyncio.Task[None]] = set()
        self._last_refusal_log = -REFUSAL_LOG_EVERY_S
        self._announcer: Any = None

    async def start(self) -> None:
        """Bind, print `voxhub wyoming listening on URI`, and announce over zeroconf if enabled."""
        from adapters.wyoming.events import STREAM_LIMIT, refuse
        from adapters.wyoming.server import WyomingConnection

        def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            client = _client_address(writer)
            limits = self.settings
            if len(self._connections) >= limits.max_connections:
                reason = f"{limits.max_connections} connections are open (adapters.wyoming.max_connections)"
            elif self._per_client.get(client, 0) >= limits.max_connections_per_client:
                reason = (f"{limits.max_connections_per_client} connections from {client} are open "
                          "(adapters.wyoming.max_connections_per_client)")  # fmt: skip
            else:
                reason = ""
            if reason:
                now = time.monotonic()
                if now - self._last_refusal_log >= REFUSAL_LOG_EVERY_S:  # a flood must not flood the log
                    self._last_refusal_log = now
                    log.warning("Wyoming: refusing connections (e.g. from %s): %s", client, reason)
                task = asyncio.create_task(refuse(writer, reason), name="wyoming refusal")
                self._refusals.add(task)
                task.add_done_callback(self._refusals.discard)
                return
            self._per_client[client] = self._per_client.get(client, 0) + 1
            connection = WyomingConnection(self.hub, self.settings, reader, writer)
            task = asyncio.create_task(connection.run(), name="wyoming connection")
            self._connections.add(task)
            task.add_done_callback(lambda done: self._closed(done, client))

        parsed = urlparse(self.settings.uri)
        try:
            if parsed.scheme == "unix":
                Path(parsed.path).unlink(missing_ok=True)  # a stale socket from a killed daemon
                self._server = await asyncio.start_unix_server(on_client, parsed.path, limit=STREAM_LIMIT)
                self.uri = f"unix://{parsed.path}"
            else:
                self._server = await asyncio.start_server(
                    on_client, parsed.hostname, parsed.port, limit=STREAM_LIMIT
                )
                host, port = self._server.sockets[0].getsockname()[:2]
                self.uri = f"tcp://{host}:{port}"
        except OSError as exc:
            raise SystemExit(
                f"cannot listen on {self.settings.uri}: {exc}; set adapters.wyoming.uri to a free address"
            ) from None
        print(f"voxhub wyoming listening on {self.uri}", flush=True)
        log.info("Wyoming server listening on %s", self.uri)
        if self.settings.zeroconf and parsed.scheme == "tcp":
            from adapters.wyoming.discovery import Announcer

            self._announcer = Announcer(self.settings)
            await self._announcer.start(int(self.uri.rsplit(":", 1)[1]))

    def _closed(self, task: asyncio.Task[None], client: str) -> None:
        self._connections.discard(task)
        left = self._per_client.get(client, 1) - 1
        if left > 0:
            self._per_client[client] = left
        else:
            self._per_client.pop(client, None)

    async def stop(self) -> None:
        """Stop announcing, close the listener and every open connection."""
        if self._announcer is not None:
            await self._announcer.stop()
        if self._server is not None:
            self._server.close()
        for task in [*self._connections, *self._refusals]:
            task.cancel()
        await asyncio.gather(*self._connections, *self._refusals, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if self.uri.startswith("unix://"):
            Path(self.uri.removeprefix("unix://")).unlink(missing_ok=True)


def _client_address(writer: asyncio.StreamWriter) -> str:
    """The peer's IP address (one client for the per-client limit); "local" for a Unix socket."""
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "local"
