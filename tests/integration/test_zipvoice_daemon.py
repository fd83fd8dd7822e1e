"""The real daemon with ZipVoice enabled (tiny stand-in models): cloned voices over HTTP, Wyoming and the CLI."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import openai
import pypinyin  # noqa: F401 - voxhub[zipvoice], in the test extra: missing must fail, not skip
import pytest
import soundfile as sf

from engines.zipvoice.pipeline import Prompt
from engines.zipvoice.tokenizer import Tokenizer
from tests.conftest import REPO, Daemon, start_daemon
from tests.integration.test_http_openai import get_json, post
from tests.integration.test_wyoming import WYOMING, describe, synthesize
from tests.zipvoice_graphs import install_tiny_models

TRANSCRIPT = "The front door is open. Please close it before the cat runs out into the garden again."
PREPARED = "zipvoice: prepared prompt for voice anna"


def env_for(model_dir: Path) -> dict[str, str]:
    return {"VOXHUB_ENGINES__ZIPVOICE__ENABLED": "true", "VOXHUB_ENGINES__ZIPVOICE__MODEL_DIR": str(model_dir),
            "VOXHUB_ENGINES__ZIPVOICE__STEPS": "4", "VOXHUB_WORKER_LOG": "INFO", **WYOMING}  # fmt: skip


def client(daemon: Daemon) -> openai.OpenAI:
    return openai.OpenAI(base_url=daemon.api, api_key="unused", max_retries=0, timeout=120)


def speak(daemon: Daemon, text: str) -> tuple[np.ndarray, int]:
    data = (
        client(daemon)
        .audio.speech.create(model="tts-1", voice="anna", input=text, response_format="wav")
        .read()
    )
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def prompt_rows(data_dir: Path) -> list[tuple[str, str, float, bytes]]:
    with sqlite3.connect(f"file:{data_dir / 'voxhub.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT voice, engine, created_at, prompt FROM prompts").fetchall()


def test_cloned_voice_speaks_through_zipvoice_and_its_prompt_is_prepared_once(tmp_path: Path) -> None:
    model_dir = install_tiny_models(tmp_path / "models")
    env = env_for(model_dir)
    daemon = start_daemon(tmp_path / "data", env=env)
    try:
        # A real spoken reference: Piper reads the transcript.
        clip = client(daemon).audio.speech.create(model="tts-1", voice="alloy", input=TRANSCRIPT,
                                                  response_format="wav").read()  # fmt: skip
        body = {
            "name": "anna",
            "transcript": TRANSCRIPT,
            "audio_b64": base64.b64encode(clip).decode(),
            "consent": True,
        }
        status, _, reply = post(daemon, "/v1/voices", json.dumps(body).encode())
        assert status == 201, reply
        listed = {v["name"]: v for v in get_json(daemon, "/v1/voices")["data"]}
        assert listed["anna"]["engine"] == "zipvoice" and listed["anna"]["kind"] == "cloned"
        assert prompt_rows(daemon.data_dir) == []
        assert "ZipVoiceEngine warmed up" in daemon.log()  # the worker loaded its models before any request

        text = "The quick brown fox jumps over the lazy dog."
        audio, rate = speak(daemon, text)
        assert rate == 24000 and np.all(np.isfinite(audio)) and np.sqrt(np.mean(audio**2)) > 0.005
        rows = prompt_rows(daemon.data_dir)
        assert [(voice, engine) for voice, engine, _, _ in rows] == [("anna", "zipvoice")]
        # Length: ceil(P·Nt / Np) frames after the prompt, 256 samples each (tiny models make no silence).
        prompt = Prompt.from_bytes(rows[0][3])
        tokenizer = Tokenizer.from_files(model_dir / "zipvoice_distill/tokens.txt")
        frames = math.ceil(len(prompt.features) * len(tokenizer.encode(text)[1]) / len(prompt.ids))
        assert len(audio) == 256 * (frames - 1)
        assert abs(prompt.seconds - len(sf.read(io.BytesIO(clip))[0]) / 22050) < 1.5  # edges trimmed, +0.2 s

        second, _ = speak(
            daemon, "Dinner is ready."
        )  # the engine runs again, the prompt comes from the library
        assert len(second) > 0 and prompt_rows(daemon.data_dir)[0][2] == rows[0][2]
        assert daemon.log().count(PREPARED) == 1

        # Engine options travel in the request (`options`, via the SDK's extra_body): the seed decides the noise.
        def seeded(seed: object) -> bytes:
            return (
                client(daemon)
                .audio.speech.create(
                    model="tts-1",
                    voice="anna",
                    input="Seeds make noise.",
                    response_format="pcm",
                    extra_body={"options": {"seed": seed}},
                )
                .read()
            )

        one, again, two = seeded(1), seeded(1), seeded(2)
        assert one == again and len(one) == len(two) and one != two
        # Checked by the hub against the engine's option schema, before any work: 400 naming the option.
        with pytest.raises(
            openai.BadRequestError, match=r"options\.seed = -5 is not valid for the zipvoice engine"
        ):
            seeded(-5)
        with pytest.raises(openai.BadRequestError, match=r"options\.seed"):
            seeded([1, 2])

        # Wyoming lists the cloned voice and speaks it; nobody named the engine.
        info = asyncio.run(describe(daemon))
        assert "anna" in {v.name for v in info.tts[0].voices}
        reply = asyncio.run(synthesize(daemon, "Hello from Home Assistant.", voice="anna"))
        wyoming_audio, wyoming_rate = reply.samples()
        assert wyoming_rate == 24000 and len(wyoming_audio) > 0 and reply.errors() == []
        assert daemon.log().count(PREPARED) == 1
    finally:
        daemon.stop()

    # After a restart the prompt still comes from the library; the CLI speaks the voice in-process too.
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    cli_env.update({**env_for(model_dir), "VOXHUB_DATA_DIR": str(tmp_path / "data")})
    out = tmp_path / "cli.wav"
    result = subprocess.run([sys.executable, "-m", "hub.cli", "say", "Good night.", "--voice", "anna", "-o", str(out)],
                            cwd=REPO, env=cli_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sf.info(str(out)).samplerate == 24000 and sf.info(str(out)).frames > 0
    assert PREPARED not in result.stderr and len(prompt_rows(tmp_path / "data")) == 1
