"""Arbitrary JSON to the HTTP API, in process: only 200/201 or OpenAI-shaped 4xx errors, never a 500."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.http import create_app
from hub.api import Hub
from hub.settings import load_settings
from tests.conftest import FAKE_ONLY

FIELDS = {
    "/v1/audio/speech": ["input", "voice", "model", "response_format", "speed", "stream_format", "speaker",
                         "options"],
    "/v1/voices": ["name", "audio_b64", "url", "transcript", "language", "engine", "replace"],
    "/v1/quality": ["audio_b64", "url", "against", "text"],  # audio first: without it nothing else is read
}  # fmt: skip
KNOWN = ["fake-low", "fake-high", "alloy", "wav", "pcm", "mp3", "sse", "audio", "tts-1", "fake", "UklGRg==",
         "http://[::1", "https://", "ftp://example.com/a.wav", "http://127.0.0.1:9/a.wav", "https://x/%zz"]  # fmt: skip

scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=False)
    | st.text(max_size=80) | st.sampled_from(KNOWN)
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)  # fmt: skip


URLS = [
    "http://[::1",
    "https://",
    "ftp://example.com/a.wav",
    "http://127.0.0.1:9/a.wav",
    "https://x/%zz",
    "a b",
]
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "input": st.text(min_size=1, max_size=60),
    "voice": st.sampled_from(["fake-low", "fake-high", "alloy", "nobody"])
    | st.fixed_dictionaries({"id": scalars}),
    "model": st.sampled_from(["tts-1", "fake", "piper", "tts-9"]),
    "response_format": st.sampled_from(["wav", "pcm", "mp3", "opus", "aac", "flac", "ogg"]),
    "speed": st.floats(0.1, 5) | st.integers() | st.integers(10**300, 10**400) | st.floats(),
    "stream_format": st.sampled_from(["audio", "sse", "json"]),
    "speaker": st.text(max_size=10),
    "options": st.dictionaries(st.sampled_from(["seed", "steps", "guidance", "x"]), values, max_size=3),
    "name": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,10}", fullmatch=True),
    "audio_b64": st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
    "url": st.sampled_from(URLS),
    "replace": st.booleans(),
    "against": st.sampled_from(["fake-low", "nobody"]),
}


def bodies(path: str) -> st.SearchStrategy[Any]:
    """Mostly plausible bodies (fields usually well-typed, so the later checks are reached), some anything."""
    fields = {name: st.one_of(PLAUSIBLE.get(name, values), values) for name in FIELDS[path]}
    first = FIELDS[path][0]  # the field checked first (input, name): present, or nothing else is reached
    rest = {name: strategy for name, strategy in fields.items() if name != first}
    plausible = st.fixed_dictionaries({first: PLAUSIBLE.get(first, values)}, optional=rest)
    anything = st.one_of(
        st.fixed_dictionaries({}, optional=fields), st.dictionaries(st.text(max_size=10), values), values
    )
    return st.one_of(plausible, plausible, plausible, anything)


class InProcess:
    """The Hub (fake engine) and its aiohttp app on one event loop of this thread."""

    def __init__(self, data_dir: Path) -> None:
        env = {**FAKE_ONLY, "VOXHUB_DATA_DIR": str(data_dir), "VOXHUB_ENROLL__URL_TIMEOUT_S": "1"}
        self.settings = load_settings(env=env)
        self.loop = asyncio.new_event_loop()
        self.opened = Hub.open(self.settings)
        self.client: TestClient[Any, Any] = self.loop.run_until_complete(self._start())

    async def _start(self) -> TestClient[Any, Any]:
        hub = await self.opened.__aenter__()
        client = TestClient(TestServer(create_app(hub, hub.settings.http)))
        await client.start_server()
        return client

    def post(self, path: str, raw: bytes) -> tuple[int, bytes]:
        async def go() -> tuple[int, bytes]:
            resp = await self.client.post(path, data=raw, headers={"Content-Type": "application/json"})
            return resp.status, await resp.read()

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.run_until_complete(self.opened.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    running = InProcess(tmp_path_factory.mktemp("fuzz"))
    yield running
    running.close()


def check(app: InProcess, path: str, body: Any) -> None:
    raw = json.dumps(body).encode()
    if b"CRASH" in raw:  # the fake engine's switch for killing its worker (a 503 by design)
        return
    status, payload = app.post(path, raw)
    assert status in (200, 201) or 400 <= status < 500, (status, payload[:300], raw[:300])
    if status >= 400:
        error = json.loads(payload)["error"]
        assert set(error) >= {"message", "type", "param", "code"} and error["message"], error


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=bodies("/v1/audio/speech"))
@example(body={"input": "hi", "speed": 10**400})  # found by this test: float() overflowed (500)
def test_speech_bodies(app: InProcess, body: Any) -> None:
    check(app, "/v1/audio/speech", body)


@FUZZ
@given(body=bodies("/v1/voices"))
@example(body={"name": "a", "url": "http://[::1"})  # found by this test: urlsplit's ValueError (500)
def test_voice_bodies(app: InProcess, body: Any) -> None:
    check(app, "/v1/voices", body)


@FUZZ
@given(body=bodies("/v1/quality"))
@example(body={"url": "http://[::1"})
def test_quality_bodies(app: InProcess, body: Any) -> None:
    check(app, "/v1/quality", body)
