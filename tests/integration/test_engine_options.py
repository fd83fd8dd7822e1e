"""Engine options and errors through the daemon: declared once per engine, checked by the hub, listed by the
API, kept out of the cache key when they cannot change the audio; an engine's error keeps its status and param
across the worker pipe; the request's language reaches the engine."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from tests.conftest import FAKE_ONLY, Daemon
from tests.engines.test_piper import tiny_config, write_voice
from tests.integration.test_http_guard import multipart, raw, tone_wav
from tests.integration.test_http_openai import get_json, post

TRIO = "en_GB-trio-x_low"


def speak(daemon: Daemon, **body: object) -> tuple[int, dict, bytes]:
    payload = {"model": "tts-1", "input": "Dinner is ready.", "response_format": "wav", **body}
    return post(daemon, "/v1/audio/speech", json.dumps(payload).encode())


@pytest.fixture
def daemon(daemon_factory: object, tmp_path: Path) -> Daemon:
    write_voice(tmp_path / "voices", TRIO, tiny_config())  # a multi-speaker Piper voice (alice, bob, carol)
    env = {**FAKE_ONLY, "VOXHUB_ENGINES__PIPER__ENABLED": "true",
           "VOXHUB_ENGINES__PIPER__VOICE_DIRS": str(tmp_path / "voices")}  # fmt: skip
    return daemon_factory(env=env)  # type: ignore[operator,no-any-return]


def test_a_bad_piper_speaker_is_a_400_naming_the_option(daemon: Daemon) -> None:
    client = openai.OpenAI(base_url=daemon.api, api_key="x")
    for extra in ({"speaker": "dave"}, {"options": {"speaker": "dave"}}):
        with pytest.raises(openai.BadRequestError) as caught:
            client.audio.speech.create(model="tts-1", voice=TRIO, input="Hello.", extra_body=extra)
        error = caught.value.body
        assert isinstance(error, dict)
        assert (error["param"], error["code"]) == ("options.speaker", "invalid_option"), extra
        assert "no speaker 'dave'" in error["message"] and "alice, bob, carol" in error["message"]
    good = client.audio.speech.create(
        model="tts-1", voice=TRIO, input="Hello.", extra_body={"speaker": "bob"}
    )
    assert len(good.read()) > 1000
    assert get_json(daemon, "/health")["engines"]["piper"]["restarts"] == 0  # the worker stayed up


def test_options_are_checked_against_the_engines_schema_and_listed(daemon: Daemon) -> None:
    status, _, body = speak(daemon, voice="fake-low", options={"bogus": 1})
    error = json.loads(body)["error"]
    assert status == 400 and error["param"] == "options.bogus"
    assert error["message"].startswith(
        "options.bogus: the fake engine has no such option; its options are pitch, trace"
    )
    status, _, body = speak(daemon, voice="fake-low", options={"pitch": 5})
    error = json.loads(body)["error"]
    assert status == 400 and error["message"] == (
        "options.pitch = 5 is not valid for the fake engine: use a number from 50 to 2000"
    )
    models = {m["id"]: m for m in get_json(daemon, "/v1/models")["data"]}
    assert [o["name"] for o in models["fake"]["options"]] == ["pitch", "trace"]
    assert {"name": "speaker", "type": "str"}.items() <= models["piper"]["options"][0].items()
    spec = get_json(daemon, "/openapi.json")
    listed = spec["components"]["schemas"]["SpeechRequest"]["properties"]["options"]["x-engine-options"]
    assert listed["fake"][0]["max"] == 2000
    docs = raw(daemon, "GET", "/docs")[2].decode()
    assert "<code>pitch</code>" in docs and "tone frequency" in docs


def test_only_options_that_change_the_audio_split_the_cache(daemon: Daemon) -> None:
    status, headers, plain = speak(daemon, voice="fake-low")
    assert status == 200 and headers["X-Voxhub-Cache"] == "miss"
    status, headers, traced = speak(daemon, voice="fake-low", options={"trace": True})
    assert headers["X-Voxhub-Cache"] == "hit" and traced == plain  # `trace` is declared audio=False
    status, headers, higher = speak(daemon, voice="fake-low", options={"pitch": "900"})
    assert status == 200 and headers["X-Voxhub-Cache"] == "miss" and higher != plain


def test_the_language_and_reference_reach_the_engine(daemon: Daemon) -> None:
    body, ctype = multipart({"name": "oma", "language": "de", "consent": "true"}, tone_wav())
    assert raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})[0] == 201
    status, _, body = speak(daemon, voice="oma", input="LANGUAGE?")
    error = json.loads(body)["error"]
    # The fake engine's probe answers 422 with what it was given: the error's status and param came across.
    assert (status, error["param"], error["code"]) == (422, "probe", "engine_error")
    assert error["message"] == "language=de reference=de"
    status, _, body = speak(daemon, voice="oma", input="LANGUAGE?", language="fr")
    assert json.loads(body)["error"]["message"] == "language=fr reference=de"
    status, _, body = speak(daemon, voice="fake-high", input="LANGUAGE?")
    assert json.loads(body)["error"]["message"] == "language=en_US reference=None"


def test_an_error_that_asks_for_a_restart_gets_a_fresh_worker(daemon: Daemon) -> None:
    before = get_json(daemon, "/health")["engines"]["fake"]
    status, headers, body = speak(daemon, voice="fake-low", input="BROKEN!")
    error = json.loads(body)["error"]
    assert (status, error["code"]) == (503, "engine_unavailable") and "Retry-After" in headers
    status, _, _ = speak(daemon, voice="fake-low", input="Fine again.")
    after = get_json(daemon, "/health")["engines"]["fake"]
    assert status == 200 and after["restarts"] == before["restarts"] + 1
    assert after["workers"][0]["pid"] != before["workers"][0]["pid"]
