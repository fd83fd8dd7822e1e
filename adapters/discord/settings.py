"""The `[adapters.discord]` settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hub.api import ConfigError, parse_section

SECTION = "adapters.discord"


@dataclass(frozen=True)
class DiscordSettings:
    """Everything the Discord adapter is configured with (see config/voxhub.toml)."""

    token: str = ""
    """The bot token (Developer Portal → Bot → Reset Token); also VOXHUB_ADAPTERS__DISCORD__TOKEN."""
    guild_ids: tuple[str, ...] = ()
    """Register the commands in these guilds only (instantly); empty = globally (Discord may take an hour)."""
    api_url: str = "https://discord.com/api/v10"
    """REST base URL; the gateway URL comes from GET /gateway/bot under it."""
    default_voice: str = ""
    """The voice when neither the command nor the user's remembered choice names one (empty = voices.default)."""
    idle_disconnect_s: float = 300.0
    max_chars: int = 1000
    manage_roles: tuple[str, ...] = ()
    """Role names or ids allowed to enroll and remove voices; empty = members with Manage Server."""
    cooldown_s: float = 2.0
    """Seconds between two /say requests of one member (0 = no limit)."""
    max_clip_mb: float = 10.0

    @property
    def guilds(self) -> tuple[int, ...]:
        return tuple(int(g) for g in self.guild_ids)

    @property
    def max_clip_bytes(self) -> int:
        return int(self.max_clip_mb * (1 << 20))

    def validate(self) -> DiscordSettings:
        """Raise ConfigError naming the first bad key and its fix."""
        if not self.token.strip():
            raise ConfigError(
                f"{SECTION}.token is empty: paste the bot token from the Discord Developer Portal (Bot → "
                "Reset Token) into the config or VOXHUB_ADAPTERS__DISCORD__TOKEN"
            )
        bad = [g for g in self.guild_ids if not g.isdigit()]
        if bad:
            raise ConfigError(
                f"{SECTION}.guild_ids has {', '.join(map(repr, bad))}: use numeric server ids (Developer Mode → "
                "right-click the server → Copy Server ID)"
            )
        if urlsplit(self.api_url).scheme not in ("http", "https"):
            raise ConfigError(f"{SECTION}.api_url = {self.api_url!r} must be an http(s) URL")
        if self.idle_disconnect_s <= 0:
            raise ConfigError(f"{SECTION}.idle_disconnect_s must be positive (got {self.idle_disconnect_s})")
        if not 0 < self.max_chars <= 4000:
            raise ConfigError(
                f"{SECTION}.max_chars must be 1-4000 (Discord's option limit; got {self.max_chars})"
            )
        if self.cooldown_s < 0:
            raise ConfigError(f"{SECTION}.cooldown_s must be >= 0 (got {self.cooldown_s})")
        if self.max_clip_mb <= 0:
            raise ConfigError(f"{SECTION}.max_clip_mb must be positive (got {self.max_clip_mb})")
        return self


def load(options: Any) -> DiscordSettings:
    """Parse and check the `[adapters.discord]` table."""
    settings: DiscordSettings = parse_section(DiscordSettings, SECTION, dict(options))
    return settings.validate()
