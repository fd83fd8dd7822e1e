"""Slack: `/say` posts audio in a library voice; voices are cloned from audio files shared with the bot.

Slash commands, events and shortcuts arrive over Socket Mode (an app token is set: no public URL needed)
or at `POST /slack/events` on the daemon's HTTP server, signed with the app's signing secret. Modules:
this one (settings, lifetime), app (the Bolt app and its listeners), commands (parsing and reply text),
files (downloading shared clips, uploading audio).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hub.api import ConfigError, Hub, VoxhubError, check_format, parse_section

log = logging.getLogger("voxhub.slack")

SECTION = "adapters.slack"
EVENTS_PATH = "/slack/events"
SLACK_FORMATS = ("mp3", "opus")
"""The output formats Slack plays inline (a subset of the hub's)."""
MODES = ("auto", "socket", "http")
RETRY_MIN_S, RETRY_MAX_S = 2.0, 60.0


@dataclass(frozen=True)
class SlackSettings:
    """[adapters.slack]: see config/voxhub.toml."""

    bot_token: str = field(default="", repr=False)
    """The Bot User OAuth Token (xoxb-...)."""
    signing_secret: str = field(default="", repr=False)
    """Verifies requests to POST /slack/events (HTTP mode)."""
    app_token: str = field(default="", repr=False)
    """An app-level token (xapp-...) with connections:write: Socket Mode."""
    mode: str = "auto"
    """auto (Socket Mode when app_token is set, else HTTP), socket or http."""
    api_url: str = "https://slack.com/api/"
    default_voice: str = ""
    max_chars: int = 1000
    manage_users: tuple[str, ...] = ()
    """Slack user ids allowed to enroll and remove voices; empty = workspace admins and owners; "*" = all."""
    audio_format: str = "mp3"
    max_clip_mb: float = 20.0

    @property
    def socket_mode(self) -> bool:
        return self.mode == "socket" or (self.mode == "auto" and bool(self.app_token))

    def validate(self) -> SlackSettings:
        """Raise ConfigError naming the first bad key and its fix."""
        if not self.bot_token.startswith("xoxb-"):
            raise ConfigError(
                f"{SECTION}.bot_token must be the app's Bot User OAuth Token (xoxb-...): copy it from "
                "OAuth & Permissions, or set VOXHUB_ADAPTERS__SLACK__BOT_TOKEN"
            )
        if self.mode not in MODES:
            raise ConfigError(f"{SECTION}.mode = {self.mode!r} is not supported: use {', '.join(MODES)}")
        if self.socket_mode and not self.app_token.startswith("xapp-"):
            raise ConfigError(
                f"{SECTION}.app_token must be an app-level token (xapp-...) with connections:write for "
                'Socket Mode: create one under Basic Information, or set mode = "http"'
            )
        if not self.socket_mode and not self.signing_secret:
            raise ConfigError(
                f"{SECTION}.signing_secret is empty: HTTP mode verifies every request with it; copy it from "
                "Basic Information (or set app_token for Socket Mode)"
            )
        if urlsplit(self.api_url).scheme not in ("http", "https") or not self.api_url.endswith("/"):
            raise ConfigError(
                f"{SECTION}.api_url = {self.api_url!r} must be an http(s) URL ending in '/', "
                "e.g. https://slack.com/api/"
            )
        try:
            check_format(self.audio_format, param=f"{SECTION}.audio_format", allowed=SLACK_FORMATS)
        except VoxhubError:
            raise ConfigError(
                f"{SECTION}.audio_format = {self.audio_format!r} is not supported: use mp3 or opus (Ogg)"
            ) from None
        if self.max_chars < 1:
            raise ConfigError(f"{SECTION}.max_chars must be positive (got {self.max_chars})")
        if self.max_clip_mb <= 0:
            raise ConfigError(f"{SECTION}.max_clip_mb must be positive (got {self.max_clip_mb})")
        return self


class SlackAdapter:
    """The Bolt app, served over Socket Mode or on the daemon's HTTP server, until stopped."""

    def __init__(self, hub: Hub, options: dict[str, Any]) -> None:
        self.hub = hub
        self.settings: SlackSettings = parse_section(SlackSettings, SECTION, dict(options)).validate()
        self._bolt: Any = None
        self._socket: Any = None
        self._connector: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Build the Bolt app and mount the events route; reaching Slack happens in the background."""
        from adapters.slack.app import SlackBot

        self._bolt = SlackBot(self.hub, self.settings)
        if not self.settings.socket_mode:
            self.hub.add_http_route("POST", EVENTS_PATH, self._bolt.handle_http, public=True)
        self._connector = asyncio.create_task(self._connect(), name="slack connect")

    async def _connect(self) -> None:
        """auth.test, then (Socket Mode) the websocket; one clear log line when Slack refuses or is away."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        identity = await self._patiently(
            self._bolt.client.auth_test,
            "Slack refused the bot token (%s): set adapters.slack.bot_token to the app's Bot User OAuth Token "
            "(xoxb-...) and restart; Slack commands fail until then, the rest of voxhub keeps working",
        )
        if identity is None:
            return
        how = "Socket Mode" if self.settings.socket_mode else f"HTTP, events at POST {EVENTS_PATH}"
        log.info("slack: connected to %s as @%s (%s)", identity.get("team"), identity.get("user"), how)
        if self.settings.socket_mode:
            # Ask for a websocket URL ourselves first: a refused app token is then our one line, not the
            # Socket Mode client's error and traceback.
            token = self.settings.app_token
            checked = await self._patiently(
                lambda: self._bolt.client.apps_connections_open(app_token=token),
                "Slack refused the app token (%s): set adapters.slack.app_token to an app-level token "
                '(xapp-...) with connections:write, or use HTTP mode (mode = "http")',
            )
            if checked is None:
                return
            self._socket = AsyncSocketModeHandler(self._bolt.app, token)
            if await self._patiently(self._socket.connect_async, "Socket Mode failed (%s)") is not None:
                log.info("slack: Socket Mode connected")

    async def _patiently(self, call: Callable[[], Awaitable[Any]], refused: str) -> Any:
        """`await call()` until Slack answers: its result (True for None), or None when Slack says no."""
        from slack_sdk.errors import SlackApiError

        delay = RETRY_MIN_S
        warned = False
        while True:
            try:
                result = await call()
                return True if result is None else result
            except SlackApiError as exc:
                log.error("slack: " + refused, exc.response.get("error", "error"))
                return None
            except Exception as exc:  # network trouble: keep trying quietly after one line
                if not warned:
                    log.error(
                        "slack: cannot reach Slack at %s (%s); retrying in the background, the rest of voxhub "
                        "keeps working",
                        self.settings.api_url,
                        exc or type(exc).__name__,
                    )
                    warned = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def stop(self) -> None:
        """Close the Socket Mode connection and cancel the work in flight."""
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(BaseException):
                await self._connector
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._socket.close_async(), 5)
        if self._bolt is not None:
            await self._bolt.close()
