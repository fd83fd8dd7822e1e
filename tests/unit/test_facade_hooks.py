"""Facade services for chat adapters: routes mounted on the daemon's HTTP server, remembered user voices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.http import create_app
from hub.api import ConfigError, Consent, Hub
from hub.errors import VoiceNotFound
from hub.settings import load_settings
from tests.conftest import FAKE_ONLY

CONSENT = Consent("test")


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    env = {**FAKE_ONLY, "VOXHUB_DATA_DIR": str(tmp_path), "VOXHUB_HTTP__API_KEYS": "sekrit"}
    async with Hub.open(load_settings(env=env)) as opened:
        yield opened


async def test_adapter_routes_are_served_and_only_public_ones_skip_the_key(hub: Hub) -> None:
    async def signed(request: web.Request) -> web.Response:
        return web.Response(text="public " + await request.text())

    async def private(request: web.Request) -> web.Response:
        return web.Response(text="private")

    hub.add_http_route("POST", "/slack/events", signed, public=True)
    hub.add_http_route("GET", "/adapter/private", private)
    with pytest.raises(ConfigError, match="two adapters"):
        hub.add_http_route("POST", "/slack/events", signed, public=True)
    server = TestServer(create_app(hub, hub.settings.http))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(server.make_url("/slack/events"), data=b"x") as response:
                assert response.status == 200 and await response.text() == "public x"
            async with session.get(server.make_url("/adapter/private")) as response:
                assert response.status == 401
            headers = {"Authorization": "Bearer sekrit"}
            async with session.get(server.make_url("/adapter/private"), headers=headers) as response:
                assert response.status == 200 and await response.text() == "private"
            async with session.get(server.make_url("/v1/voices")) as response:  # the rest stays locked
                assert response.status == 401
    finally:
        await server.close()


async def test_user_voice_is_checked_remembered_and_dropped_when_the_voice_goes(hub: Hub) -> None:
    assert await hub.user_voice("discord", "1") is None
    with pytest.raises(VoiceNotFound, match="fake-low"):
        await hub.set_user_voice("discord", "1", "fake-lo")  # a typo: close matches named
    assert await hub.user_voice("discord", "1") is None  # nothing stored
    await hub.enroll("mum", _tone_wav(), consent=CONSENT)
    await hub.set_user_voice("discord", "1", "mum")
    assert await hub.user_voice("discord", "1") == "mum"
    assert await hub.user_voice("slack", "1") is None  # per platform
    await hub.delete_voice("mum")
    assert await hub.user_voice("discord", "1") is None  # a removed voice is no one's default
    await hub.set_user_voice("discord", "1", "fake-low")
    await hub.set_user_voice("discord", "1", None)
    assert await hub.user_voice("discord", "1") is None


def _tone_wav() -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    t = np.arange(24000 * 4) / 24000
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), 24000, format="WAV")
    return buffer.getvalue()
