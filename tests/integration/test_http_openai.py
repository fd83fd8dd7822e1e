"""The real daemon on an ephemeral port, driven by the official `openai` SDK and plain HTTP."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request

import numpy as np
import openai
import pytest
import soundfile as sf

from hub.quality.measures import word_error_rate
from tests.conftest import FAKE_ONLY, Daemon, decode

SENTENCE = "The quick brown fox jumps over the lazy dog."


def client(daemon: Daemon, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=daemon.api, api_key=key, max_retries=0, timeout=60)


def post(
    daemon: Daemon, path: str, body: bytes, content_type: str = "application/json"
) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(
        daemon.url + path, data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def get_json(daemon: Daemon, path: str) -> dict:
    with urllib.request.urlopen(daemon.url + path, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("fmt", ["wav", "pcm", "flac", "mp3", "opus", "aac"])
def test_every_format_decodes_to_speech_of_plausible_duration(piper_daemon: Daemon, fmt: str) -> None:
    data = (
        client(piper_daemon)
        .audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, response_format=fmt)
        .read()
    )
    if fmt == "pcm":
        samples, rate = np.frombuffer(data, "<i2").astype(np.float32) / 32768, 22050
    else:
        samples, rate = decode(data)
    seconds = len(samples) / rate
    # Nine words at a natural pace: about 2-4 s; codec padding is far below that spread.
    assert 1.5 < seconds < 5.0, f"{fmt}: {seconds:.2f} s"
    assert np.sqrt(np.mean(samples**2)) > 0.02, f"{fmt}: audio is near silent"
    assert np.mean(np.abs(samples) > 0.999) < 0.001, f"{fmt}: clipped"


def test_speed_changes_duration(piper_daemon: Daemon) -> None:
    def seconds(speed: float) -> float:
        data = (
            client(piper_daemon)
            .audio.speech.create(
                model="tts-1", voice="alloy", input=SENTENCE, response_format="wav", speed=speed
            )
            .read()
        )
        info = sf.info(io.BytesIO(data))
        return info.frames / info.samplerate

    normal, fast = seconds(1.0), seconds(2.0)
    # Piper scales phoneme durations; pauses and edges shrink less, so 2x speed gives about 0.65x.
    assert 0.4 < fast / normal < 0.75


def test_offline_voice_is_intelligible(piper_daemon: Daemon, transcriber: object) -> None:
    spoken = "Please turn off the kitchen lights before you go to bed."
    data = (
        client(piper_daemon)
        .audio.speech.create(model="tts-1", voice="en_US-joe-medium", input=spoken, response_format="flac")
        .read()
    )
    samples, rate = decode(data)
    heard = transcriber.transcribe(samples, rate, language="en")  # type: ignore[attr-defined]
    # Piper samples noise per run, so allow one slip of the ear in eleven words, no more.
    assert word_error_rate(spoken, heard.text) <= 1 / 11, heard.text


def test_sse_stream_format(piper_daemon: Daemon) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": "Hello there. How are you?", "response_format": "pcm",
            "stream_format": "sse"}  # fmt: skip
    status, headers, raw = post(piper_daemon, "/v1/audio/speech", json.dumps(body).encode())
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "speech.audio.done"
    import base64

    pcm = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert len(events) >= 3  # two sentences arrive as separate deltas
    assert 1.0 < len(pcm) / 2 / 22050 < 4.0


def test_models_voices_health_metrics_docs(piper_daemon: Daemon) -> None:
    models = {m.id for m in client(piper_daemon).models.list()}
    assert {"tts-1", "tts-1-hd", "piper"} <= models
    voices = get_json(piper_daemon, "/v1/voices")["data"]
    joe = next(v for v in voices if v["name"] == "en_US-joe-medium")
    assert joe["engine"] == "piper" and joe["kind"] == "preset" and joe["sample_rate"] == 22050
    health = get_json(piper_daemon, "/health")
    assert health["status"] == "ok" and health["engines"]["piper"]["state"] == "ready"
    with urllib.request.urlopen(piper_daemon.url + "/metrics") as resp:
        text = resp.read().decode()
    assert "voxhub_time_to_first_audio_seconds_bucket" in text
    spec = get_json(piper_daemon, "/openapi.json")
    assert "/v1/audio/speech" in spec["paths"]
    with urllib.request.urlopen(piper_daemon.url + "/docs") as resp:
        assert "/v1/audio/speech" in resp.read().decode()


def test_streaming_sends_first_audio_before_the_text_is_done(daemon_factory: object) -> None:
    # The fake engine spends 0.6 s per sentence, so the timing gap is far larger than scheduling noise.
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_ENGINES__FAKE__DELAY_S": "0.6"})  # type: ignore[operator]
    text = "One sentence here. Another one follows. A third one now. And the last one."
    started = time.perf_counter()
    with client(daemon).audio.speech.with_streaming_response.create(
        model="tts-1", voice="fake-low", input=text, response_format="pcm"
    ) as response:
        arrivals = []
        for piece in response.iter_bytes():
            if piece:
                arrivals.append(time.perf_counter() - started)
    assert len(arrivals) >= 4
    total = arrivals[-1]
    assert total > 2.0  # four sentences at 0.6 s each
    assert arrivals[0] < total / 2, arrivals


def test_cache_hit_skips_the_engine_and_survives_restart(daemon_factory: object) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    body = json.dumps(
        {"model": "tts-1", "input": "Dinner is ready.", "voice": "fake-high", "response_format": "wav"}
    )
    first = post(daemon, "/v1/audio/speech", body.encode())
    second = post(daemon, "/v1/audio/speech", body.encode())
    assert first[0] == second[0] == 200
    assert first[1]["X-Voxhub-Cache"] == "miss" and second[1]["X-Voxhub-Cache"] == "hit"
    assert first[2] == second[2]
    metrics = urllib.request.urlopen(daemon.url + "/metrics").read().decode()
    assert 'voxhub_sentences_total{engine="fake",source="engine"} 1.0' in metrics
    assert 'voxhub_sentences_total{engine="fake",source="cache"} 1.0' in metrics
    daemon.stop()
    again = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    third = post(again, "/v1/audio/speech", body.encode())
    assert third[1]["X-Voxhub-Cache"] == "hit" and third[2] == first[2]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "needle"),
    [
        ({"model": "tts-1", "input": "", "voice": "alloy"}, "application/json", 400, "empty_input", "empty"),
        (
            {"model": "tts-1", "input": "   ", "voice": "alloy"},
            "application/json",
            400,
            "empty_input",
            "empty",
        ),
        (
            {"model": "tts-1", "input": "a" * 1_000_000, "voice": "alloy"},
            "application/json",
            413,
            "input_too_long",
            "4096",
        ),
        (
            {"model": "tts-1", "input": "hi", "voice": "en_US-joe-mediun"},
            "application/json",
            404,
            "voice_not_found",
            "en_US-joe-medium",
        ),
        (
            {"model": "tts-1", "input": "hi", "voice": "alloy", "response_format": "ogg"},
            "application/json",
            400,
            "unsupported_format",
            "mp3",
        ),
        (
            {"model": "tts-1", "input": "hi", "voice": "alloy", "speed": 9},
            "application/json",
            400,
            "invalid_request",
            "speed",
        ),
        (
            {"model": "tts-9", "input": "hi", "voice": "alloy"},
            "application/json",
            400,
            "invalid_request",
            "model",
        ),
        ({"model": "tts-1", "input": 42}, "application/json", 400, "invalid_request", "input"),
        (b"{not json", "application/json", 400, "invalid_request", "JSON"),
        ({"model": "tts-1", "input": "hi"}, "text/plain", 415, "wrong_content_type", "application/json"),
    ],
)
def test_bad_input_gets_a_clear_openai_shaped_error(
    piper_daemon: Daemon, body: object, content_type: str, status: int, code: str, needle: str
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    got, _, payload = post(piper_daemon, "/v1/audio/speech", raw, content_type)
    assert got == status, payload
    error = json.loads(payload)["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["code"] == code and needle in error["message"], error
    assert get_json(piper_daemon, "/health")["status"] == "ok"  # the daemon is still there


def test_unknown_voice_through_the_sdk_lists_close_matches(piper_daemon: Daemon) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client(piper_daemon).audio.speech.create(model="tts-1", voice="en_US-jo-medium", input="Hello.")
    assert "did you mean 'en_US-joe-medium'" in str(info.value)


def test_unknown_route_and_method(piper_daemon: Daemon) -> None:
    status, _, payload = post(piper_daemon, "/v1/nothing", b"{}")
    assert status == 404 and json.loads(payload)["error"]["code"] == "not_found"


def test_api_keys_are_enforced_when_configured(daemon_factory: object) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_HTTP__API_KEYS": "sekrit"})  # type: ignore[operator]
    with pytest.raises(openai.AuthenticationError):
        client(daemon, key="wrong").audio.speech.create(model="tts-1", voice="fake-low", input="Hi.")
    audio = (
        client(daemon, key="sekrit")
        .audio.speech.create(model="tts-1", voice="fake-low", input="Hi.", response_format="wav")
        .read()
    )
    assert sf.info(io.BytesIO(audio)).frames > 0
    assert get_json(daemon, "/health")["status"] == "ok"  # health stays open for probes
