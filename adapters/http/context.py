"""What every handler reads from the aiohttp application: the Hub and the [http] settings."""

from __future__ import annotations

from aiohttp import web

from hub.api import HttpSettings, Hub

HUB_KEY = web.AppKey("hub", Hub)
SETTINGS_KEY = web.AppKey("http_settings", HttpSettings)
