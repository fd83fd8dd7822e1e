"""The real daemon with Pocket TTS enabled: a tiny random-weight model (tests/pocket_model.py) loaded by the
package's own loader offline; a clip enrolled over HTTP, spoken through the openai SDK, its voice state
computed once. A last test runs the released weights when they are installed."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import sqlite3
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import openai
import pytest
import soundfile as sf

from engines.pocket.models import default_model_dir
from tests.conftest import Daemon, start_daemon
from tests.integration.test_http_guard import multipart, raw, tone_wav
from tests.integration.test_http_openai import get_json
from tests.pocket_model import FRAME_SAMPLES, FRAMES, PRESET

PREPARED = "pocket: prepared voice anna"


def env_for(model_dir: Path) -> dict[str, str]:
    return {"VOXHUB_ENGINES__PIPER__ENABLED": "false", "VOXHUB_ENGINES__POCKET__ENABLED": "true",
            "VOXHUB_ENGINES__POCKET__MODEL_DIR": str(model_dir), "VOXHUB_VOICES__DEFAULT": PRESET,
            "VOXHUB_ENROLL__ANALYZE": "false", "VOXHUB_WORKER_LOG": "INFO", "HF_HUB_OFFLINE": "1"}  # fmt: skip


def client(daemon: Daemon) -> openai.OpenAI:
    return openai.OpenAI(base_url=daemon.api, api_key="unused", max_retries=0, timeout=120)


def speak(daemon: Daemon, voice: str, text: str) -> tuple[np.ndarray, int]:
    data = (
        client(daemon)
        .audio.speech.create(model="tts-1", voice=voice, input=text, response_format="wav")
        .read()
    )
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def sse_deltas(daemon: Daemon, voice: str, text: str) -> list[bytes]:
    body = json.dumps({"model": "tts-1", "voice": voice, "input": text, "response_format": "pcm",
                       "stream_format": "sse"}).encode()  # fmt: skip
    request = urllib.request.Request(daemon.api + "/audio/speech", body, {"Content-Type": "application/json"})
    deltas = []
    with urllib.request.urlopen(request, timeout=60) as response:
        for line in response:
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event["type"] == "speech.audio.delta":
                    deltas.append(base64.b64decode(event["audio"]))
    return deltas


def hang_up_after_first_bytes(daemon: Daemon, voice: str, text: str) -> None:
    where = urlsplit(daemon.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    body = json.dumps({"model": "tts-1", "voice": voice, "input": text, "response_format": "pcm"})
    conn.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200 and response.read1(1024)
    conn.close()


def prompt_rows(data_dir: Path) -> list[tuple[str, str, float]]:
    with sqlite3.connect(f"file:{data_dir / 'voxhub.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT voice, engine, created_at FROM prompts").fetchall()


def test_a_cloned_voice_speaks_through_pocket_and_its_state_is_computed_once(
    pocket_model_dir: Path, tmp_path: Path
) -> None:
    daemon = start_daemon(tmp_path / "data", env=env_for(pocket_model_dir))
    try:
        engine = get_json(daemon, "/health")["engines"]["pocket"]
        assert engine["state"] == "ready"
        models = {m["id"]: m for m in get_json(daemon, "/v1/models")["data"]}
        assert models["pocket"]["cloning"] is True
        assert [o["name"] for o in models["pocket"]["options"]] == ["temperature", "frames_after_eos"]

        body, ctype = multipart({"name": "anna", "consent": "true"}, tone_wav(seconds=3.0))
        status, _, reply = raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})
        assert status == 201, reply

        # Every sentence of the tiny model is exactly FRAMES frames of 80 ms at 24 kHz.
        samples, rate = speak(daemon, "anna", "Hello there.")
        assert rate == 24000 and len(samples) == FRAMES * FRAME_SAMPLES
        assert np.abs(samples).max() > 0
        two, _ = speak(daemon, "anna", "Good morning. See you soon.")
        assert len(two) == 2 * FRAMES * FRAME_SAMPLES  # two sentences
        assert daemon.log().count(PREPARED) == 1  # the second request reused the cached voice state
        assert [(v, e) for v, e, _ in prompt_rows(daemon.data_dir)] == [("anna", "pocket")]

        # Streaming: one sentence arrives as several deltas (a frame or a few each), not as one block.
        deltas = sse_deltas(daemon, "anna", "Streaming frame by frame.")
        assert len(deltas) >= 3 and sum(len(d) for d in deltas) == FRAMES * FRAME_SAMPLES * 2

        # Cancellation: a listener who hangs up stops the engine; the worker is free again at once.
        hang_up_after_first_bytes(daemon, "anna", " ".join(["This sentence is long enough."] * 40))
        deadline = time.monotonic() + 5
        while get_json(daemon, "/health")["engines"]["pocket"]["workers"][0]["state"] != "ready":
            assert time.monotonic() < deadline, "the worker kept generating for a listener who left"
            time.sleep(0.05)
        after, _ = speak(daemon, "anna", "Still here.")
        assert len(after) == FRAMES * FRAME_SAMPLES

        preset, _ = speak(daemon, PRESET, "A preset voice.")
        assert len(preset) == FRAMES * FRAME_SAMPLES
        with pytest.raises(openai.BadRequestError, match=r"options\.temperature = 9"):
            client(daemon).audio.speech.create(model="tts-1", voice="anna", input="Hi.",
                                               extra_body={"options": {"temperature": 9}})  # fmt: skip
    finally:
        daemon.stop()


def test_without_model_files_the_error_names_the_pull_command(tmp_path: Path) -> None:
    env = env_for(tmp_path / "nothing-here")
    with pytest.raises(AssertionError) as caught:
        start_daemon(tmp_path / "data", env=env, timeout=60)
    message = str(caught.value)
    assert "voxhub models pull pocket-tts" in message and str(tmp_path / "nothing-here") in message
    assert "by hand" in message


def _installed_weights() -> Path | None:
    configured = os.environ.get("VOXHUB_POCKET_MODEL_DIR")
    model_dir = Path(configured) if configured else default_model_dir()
    return model_dir if (model_dir / "config.yaml").is_file() else None


@pytest.mark.skipif(
    _installed_weights() is None,
    reason="the released Pocket TTS weights are not installed (they cannot be downloaded on this machine): run "
    "`voxhub models pull pocket-tts` or set VOXHUB_POCKET_MODEL_DIR to run this test",
)
def test_the_released_weights_speak_intelligibly(tmp_path: Path, transcriber: object) -> None:
    model_dir = _installed_weights()
    assert model_dir is not None
    env = {**env_for(model_dir), "VOXHUB_VOICES__DEFAULT": "alba"}
    daemon = start_daemon(tmp_path / "data", env=env, timeout=180)
    try:
        samples, rate = speak(daemon, "alba", "The kettle is boiling.")
        assert rate == 24000 and len(samples) > rate // 2
        text = transcriber.transcribe(samples, rate).text  # type: ignore[attr-defined]
        assert "kettle" in text.lower(), text
    finally:
        daemon.stop()
