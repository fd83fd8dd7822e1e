"""The `[adapters.discord]` settings: defaults from config/voxhub.toml, the environment, and clear errors."""

from __future__ import annotations

import pytest

from adapters.discord.settings import load
from hub.api import ConfigError
from hub.settings import load_settings


def _options(**env: str) -> object:
    settings = load_settings(env={f"VOXHUB_ADAPTERS__DISCORD__{k.upper()}": v for k, v in env.items()})
    return settings.adapters["discord"].options


def test_the_token_and_guild_ids_come_from_the_environment() -> None:
    settings = load(_options(token="abc.def", guild_ids="123, 456", cooldown_s="0"))
    assert settings.token == "abc.def" and settings.guilds == (123, 456) and settings.cooldown_s == 0
    assert settings.api_url == "https://discord.com/api/v10" and settings.idle_disconnect_s == 300


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "adapters.discord.token is empty"),
        ({"token": "x", "guild_ids": "my-server"}, "numeric server ids"),
        ({"token": "x", "api_url": "discord.com"}, "must be an http(s) URL"),
        ({"token": "x", "max_chars": "5000"}, "max_chars must be 1-4000"),
        ({"token": "x", "idle_disconnect_s": "0"}, "idle_disconnect_s must be positive"),
        ({"token": "x", "cooldown_s": "soon"}, "adapters.discord.cooldown_s = 'soon' is not a valid float"),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(_options(**env))
