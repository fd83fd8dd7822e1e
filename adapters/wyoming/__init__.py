"""The Wyoming adapter: Home Assistant's Assist pipelines speak every voxhub voice over the Wyoming protocol.

`describe` lists one TTS program with every voice (presets and cloned, all engines); `synthesize` and the
streaming `synthesize-start/-chunk/-stop` events are translated to the Hub facade at INTERACTIVE priority.
Configured under [adapters.wyoming]; the protocol handling lives in server.py, discovery in discovery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from hub.api import ConfigError, Hub, parse_section

log = logging.getLogger("voxhub.wyoming")


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
        self._announcer: Any = None

    async def start(self) -> None:
        """Bind, print `voxhub wyoming listening on URI`, and announce over zeroconf if enabled."""
        from adapters.wyoming.server import STREAM_LIMIT, WyomingConnection

        def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connection = WyomingConnection(self.hub, self.settings, reader, writer)
            task = asyncio.create_task(connection.run(), name="wyoming connection")
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)

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

    async def stop(self) -> None:
        """Stop announcing, close the listener and every open connection."""
        if self._announcer is not None:
            await self._announcer.stop()
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if self.uri.startswith("unix://"):
            Path(self.uri.removeprefix("unix://")).unlink(missing_ok=True)
