"""Discord: a bot whose `/say` speaks in the caller's voice channel (or replies with an audio file) and whose
`/voice` commands list, clone (from attachments), check and remove voices. Needs `pip install
'voxhub[discord]'` and, for voice channels, libopus (Debian `libopus0`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapters.discord.settings import DiscordSettings, load
from hub.api import ConfigError, Hub, VoxhubError

if TYPE_CHECKING:
    from adapters.discord.bot import VoxhubBot

log = logging.getLogger("voxhub.discord")

RETRY_MIN_S, RETRY_MAX_S = 5.0, 300.0

__all__ = ["DiscordAdapter", "DiscordSettings", "opus_available"]


def opus_available() -> bool:
    """Whether discord.py found libopus (needed to speak in voice channels)."""
    import discord.opus

    if not discord.opus.is_loaded():
        with contextlib.suppress(Exception):
            discord.opus._load_default()
    return discord.opus.is_loaded()


class DiscordAdapter:
    """Logs the bot in, in the background: a refused token is one log line, never a failed start-up."""

    def __init__(self, hub: Hub, options: Mapping[str, Any]) -> None:
        self.hub = hub
        self.settings = load(options)
        try:
            import discord  # noqa: F401
        except ImportError:
            raise ConfigError(
                "adapters.discord is enabled but discord.py is not installed: pip install 'voxhub[discord]'"
            ) from None
        self.bot: VoxhubBot | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Point discord.py at the configured API and run the bot in the background."""
        import discord.http

        if self.settings.default_voice:
            try:
                await self.hub.get_voice(self.settings.default_voice)
            except VoxhubError as exc:
                raise ConfigError(f"adapters.discord.default_voice: {exc.message}") from None
        discord.http.Route.BASE = self.settings.api_url.rstrip("/")
        if not opus_available():
            log.warning(
                "discord: libopus was not found, so /say cannot speak in voice channels and replies with an "
                "audio file instead: install it (Debian/Ubuntu: apt-get install libopus0)"
            )
        self._task = asyncio.create_task(self._run(), name="discord-bot")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.bot is not None and not self.bot.is_closed():
            await self.bot.close()

    async def _run(self) -> None:
        """Run the bot; retry after network trouble, give up (loudly) on a refused token."""
        import discord

        from adapters.discord.bot import VoxhubBot

        delay = RETRY_MIN_S
        while True:
            self.bot = VoxhubBot(self.hub, self.settings)
            try:
                await self.bot.start(self.settings.token)
                return
            except discord.LoginFailure:
                log.error(
                    "discord: the bot token was refused by %s: set adapters.discord.token (or "
                    "VOXHUB_ADAPTERS__DISCORD__TOKEN) to the token from the Developer Portal (Bot → Reset Token); "
                    "everything else keeps running",
                    self.settings.api_url,
                )
                return
            except discord.PrivilegedIntentsRequired:
                log.error("discord: Discord refused the bot's intents; the bot stays offline")
                return
            except (OSError, discord.HTTPException, discord.GatewayNotFound, discord.ConnectionClosed) as exc:
                log.error("discord: cannot reach Discord (%s); retrying in %.0f s", exc, delay)
            except Exception:
                log.exception("discord: the bot failed; retrying in %.0f s", delay)
            finally:
                if not self.bot.is_closed():
                    await self.bot.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
