"""The web UI's server side, in process: files and redirects, ingress trust, reference clips, adapter status."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import soundfile as sf
import yarl
from aiohttp.test_utils import TestServer

from adapters.http import create_app
from hub.api import Consent, Hub
from hub.settings import load_settings
from tests.conftest import FAKE_ONLY


async def _serve(tmp_path: Path, **env: str) -> AsyncIterator[tuple[Hub, TestServer]]:
    settings = load_settings(env={**FAKE_ONLY, "VOXHUB_DATA_DIR": str(tmp_path), **env})
    async with Hub.open(settings) as hub:
        server = TestServer(create_app(hub, hub.settings.http))
        await server.start_server()
        try:
            yield hub, server
        finally:
            await server.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Hub, TestServer]]:
    # Keys always required; the test client (127.0.0.1) is the trusted ingress proxy.
    async for pair in _serve(tmp_path, VOXHUB_HTTP__API_KEYS="k", VOXHUB_HTTP__REQUIRE_API_KEY="always",
                             VOXHUB_HTTP__INGRESS_PROXIES="127.0.0.1"):  # fmt: skip
        yield pair


def _tone(seconds: float = 4.0, rate: int = 24000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


async def test_ui_files_load_without_a_key_and_the_api_does_not(served: tuple[Hub, TestServer]) -> None:
    _, server = served
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url("/"), allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"] == "ui/"
        for path in ("/ui/", "/ui/app.js", "/ui/style.css"):
            async with session.get(server.make_url(path)) as response:
                assert response.status == 200, path
        # The open /ui/ prefix must not open anything outside the UI's folder.
        outside = yarl.URL(str(server.make_url("/ui/%2e%2e/%2e%2e/app.py")), encoded=True)
        async with session.get(outside) as response:
            assert response.status in (401, 403, 404) and b"def create_app" not in await response.read()
        async with session.get(server.make_url("/v1/voices")) as response:
            assert response.status == 401


async def test_ingress_header_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    ingress = {"X-Ingress-Path": "/api/hassio_ingress/t"}
    for proxies, expected in (("127.0.0.1", 200), ("172.30.32.2", 401)):
        async for _, server in _serve(tmp_path / proxies, VOXHUB_HTTP__API_KEYS="k",
                                      VOXHUB_HTTP__REQUIRE_API_KEY="always",
                                      VOXHUB_HTTP__INGRESS_PROXIES=proxies):  # fmt: skip
            url = server.make_url("/v1/voices")
            async with aiohttp.ClientSession() as session, session.get(url, headers=ingress) as response:
                assert response.status == expected, proxies


def test_ingress_proxies_must_be_addresses() -> None:
    from hub.errors import ConfigError

    with pytest.raises(ConfigError, match=r"'supervisor' is not an IP address"):
        load_settings(env={"VOXHUB_HTTP__INGRESS_PROXIES": "supervisor"})


async def test_reference_clip_of_a_cloned_voice_and_none_for_presets(served: tuple[Hub, TestServer]) -> None:
    hub, server = served
    await hub.enroll("tone", _tone(4.0), consent=Consent("test"))
    headers = {"Authorization": "Bearer k"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(server.make_url("/v1/voices/tone/reference")) as response:
            assert response.status == 200 and response.content_type == "audio/wav"
            samples, rate = sf.read(io.BytesIO(await response.read()))
        assert abs(len(samples) / rate - 4.0) < 0.01 and 0.25 < np.abs(samples).max() < 0.35
        async with session.get(server.make_url("/v1/voices/fake-low/reference")) as response:
            assert response.status == 400
            assert "only cloned voices" in (await response.json())["error"]["message"]
        async with session.get(server.make_url("/v1/voices/tnoe/reference")) as response:
            assert response.status == 404 and "tone" in (await response.json())["error"]["message"]


async def test_health_reports_adapters_and_why_they_are_not_connected(served: tuple[Hub, TestServer]) -> None:
    hub, server = served

    class Down:
        def status(self) -> dict[str, Any]:
            return {"state": "disconnected", "reason": "broker refused"}

    class Broken:
        def status(self) -> dict[str, Any]:
            raise RuntimeError("bug")

    hub.register_adapter("plain", object())
    hub.register_adapter("down", Down())
    hub.register_adapter("broken", Broken())
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/health")) as response:
        adapters = (await response.json())["adapters"]
    assert adapters["plain"] == {"state": "running"}
    assert adapters["down"] == {"state": "disconnected", "reason": "broker refused"}
    assert adapters["broken"]["state"] == "unknown" and "bug" in adapters["broken"]["reason"]
