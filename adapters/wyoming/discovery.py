"""Zeroconf (mDNS) announcement `<name>._wyoming._tcp.local.`, so Home Assistant discovers the server."""

from __future__ import annotations

import logging
import socket
from typing import Any

from adapters.wyoming import WyomingSettings
from hub.api import ConfigError

log = logging.getLogger("voxhub.wyoming")

SERVICE_TYPE = "_wyoming._tcp.local."


def default_address() -> str:
    """This machine's address on the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("224.0.0.251", 5353))  # the mDNS group: picks the interface mDNS would use
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


class Announcer:
    """Registers the service on start, unregisters it on stop."""

    def __init__(self, settings: WyomingSettings) -> None:
        try:
            from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
        except ImportError:
            raise ConfigError(
                "adapters.wyoming.zeroconf = true needs the zeroconf package: "
                "pip install 'voxhub[wyoming]', or set zeroconf = false"
            ) from None
        self._info_class = AsyncServiceInfo
        self._zeroconf_class = AsyncZeroconf
        self.settings = settings
        self.name = settings.zeroconf_name or f"voxhub-{socket.gethostname().split('.')[0]}"
        self.host = settings.zeroconf_host or default_address()
        self._zc: Any = None
        self._info: Any = None

    async def start(self, port: int) -> None:
        """Announce `tcp://host:port`; a network without multicast only costs a warning."""
        try:
            interfaces = [self.host] if self.settings.zeroconf_host else None
            self._zc = self._zeroconf_class(interfaces=interfaces) if interfaces else self._zeroconf_class()
            self._info = self._info_class(
                SERVICE_TYPE,
                f"{self.name}.{SERVICE_TYPE}",
                addresses=[socket.inet_aton(self.host)],
                port=port,
                properties={"program": self.settings.program},
            )
            await self._zc.async_register_service(self._info)
        except (OSError, ValueError) as exc:
            log.warning("zeroconf announcement failed (%s): add voxhub to Home Assistant by hand", exc)
            return
        log.info("announced %s on tcp://%s:%s over zeroconf", self.name, self.host, port)

    async def stop(self) -> None:
        if self._zc is None:
            return
        if self._info is not None:
            try:
                await self._zc.async_unregister_service(self._info)
            except Exception as exc:  # never let discovery block shutdown
                log.debug("zeroconf unregister failed: %s", exc)
        await self._zc.async_close()
        self._zc = None
