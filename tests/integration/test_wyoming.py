"""The Wyoming adapter through a real socket with the `wyoming` client, as Home Assistant calls it."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from hub.text import split_sentences
from tests.conftest import FAKE_ONLY, REPO, Daemon, start_daemon, words

WYOMING = {"VOXHUB_ADAPTERS__WYOMING__ENABLED": "true", "VOXHUB_ADAPTERS__WYOMING__URI": "tcp://127.0.0.1:0"}
FAKE_RATE, FAKE_SECONDS_PER_CHAR = 16000, 0.02  # engines/fake.py
TEXT = "The front door is open. Somebody should close it soon. Thank you very much."


@pytest.fixture(scope="module")
def fake_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path_factory.mktemp("wyoming-fake"), env={**FAKE_ONLY, **WYOMING})
    yield daemon
    daemon.stop()


@dataclass
class Reply:
    """What a client received for one request, in order."""

    events: list[Event] = field(default_factory=list)
    first_audio_at: float | None = None

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events if e.type != "audio-chunk"]

    @property
    def formats(self) -> set[tuple[int, int, int]]:
        starts = [AudioStart.from_event(e) for e in self.events if AudioStart.is_type(e.type)]
        chunks = [AudioChunk.from_event(e) for e in self.events if AudioChunk.is_type(e.type)]
        return {(x.rate, x.width, x.channels) for x in [*starts, *chunks]}

    def samples(self) -> tuple[np.ndarray, int]:
        chunks = [AudioChunk.from_event(e) for e in self.events if AudioChunk.is_type(e.type)]
        pcm = b"".join(c.audio for c in chunks)
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768, chunks[0].rate

    def errors(self) -> list[dict]:
        return [e.data for e in self.events if e.type == "error"]


def uri_parts(daemon: Daemon) -> tuple[str, int]:
    host, port = daemon.adapter_urls["wyoming"].removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


async def read_until(
    client: AsyncTcpClient, last: str, reply: Reply | None = None, timeout: float = 30
) -> Reply:
    reply = reply or Reply()
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout)
        assert event is not None, f"connection closed; got {reply.types}"
        if event.type == "audio-chunk" and reply.first_audio_at is None:
            reply.first_audio_at = time.perf_counter()
        reply.events.append(event)
        if event.type == last:
            return reply


async def describe(daemon: Daemon) -> Info:
    async with AsyncTcpClient(*uri_parts(daemon)) as client:
        await client.write_event(Describe().event())
        reply = await read_until(client, "info")
    return Info.from_event(reply.events[-1])


async def synthesize(daemon: Daemon, text: str, voice: str | None = None) -> Reply:
    async with AsyncTcpClient(*uri_parts(daemon)) as client:
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(voice) if voice else None).event())
        return await read_until(client, "audio-stop")


async def stream(
    client: AsyncTcpClient, text: str, voice: str | None = None, words_per_delta: int = 3
) -> None:
    """Home Assistant's streaming sequence: start, deltas of a few words, the full text, stop."""
    synth_voice = SynthesizeVoice(voice) if voice else None
    await client.write_event(SynthesizeStart(voice=synth_voice).event())
    tokens = text.split(" ")
    for i in range(0, len(tokens), words_per_delta):
        await client.write_event(SynthesizeChunk(" ".join(tokens[i : i + words_per_delta]) + " ").event())
    await client.write_event(Synthesize(text, voice=synth_voice).event())
    await client.write_event(SynthesizeStop().event())


def fake_seconds(text: str) -> float:
    return sum(max(0.1, len(s) * FAKE_SECONDS_PER_CHAR) for s in split_sentences(text))


CLIP_TEXT = "This is my own voice. I am reading a few sentences aloud, so that voxhub can learn how I sound."


@pytest.fixture(scope="module")
def speech_clip() -> bytes:
    """A few seconds of real speech (the offline Piper voice), so enrollment's quality check accepts it."""
    from engines.core.interface import SynthesisRequest
    from engines.piper import PiperEngine

    engine = PiperEngine({"threads": 0})
    chunks = [c for s in split_sentences(CLIP_TEXT)
              for c in engine.synthesize(SynthesisRequest(s, "en_US-joe-medium"), lambda: False)]  # fmt: skip
    buf = io.BytesIO()
    pcm = np.frombuffer(b"".join(c.audio for c in chunks), dtype="<i2")
    sf.write(buf, pcm, chunks[0].rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def enroll(daemon: Daemon, name: str, clip: bytes) -> None:
    body = json.dumps(
        {"name": name, "audio_b64": base64.b64encode(clip).decode(), "transcript": CLIP_TEXT, "consent": True}
    )
    request = urllib.request.Request(
        daemon.url + "/v1/voices",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.status == 201


async def test_describe_lists_one_program_with_preset_and_enrolled_voices(
    fake_daemon: Daemon, speech_clip: bytes
) -> None:
    enroll(fake_daemon, "grandpa", speech_clip)
    info = await describe(fake_daemon)
    assert len(info.tts) == 1, "Home Assistant only reads the first program: every voice must be in it"
    program = info.tts[0]
    assert program.installed and program.supports_synthesize_streaming and program.name == "voxhub"
    voices = {v.name: v for v in program.voices}
    assert {"fake-low", "fake-high", "grandpa"} <= set(voices)
    assert voices["fake-low"].languages == ["en_US"] and voices["fake-low"].description == "Fake fake-low"
    # Home Assistant lists voices under exact language codes: the clone sits beside the presets
    assert "en_US" in voices["grandpa"].languages and "cloned" in (voices["grandpa"].description or "")
    assert all(v.installed and v.attribution.name for v in program.voices)
    # the enrolled voice speaks, in its own pitch
    cloned, preset = (
        await synthesize(fake_daemon, "Hello grandpa.", "grandpa"),
        await synthesize(fake_daemon, "Hello grandpa.", "fake-low"),
    )
    assert cloned.samples()[0].shape == preset.samples()[0].shape
    assert not np.allclose(cloned.samples()[0], preset.samples()[0])


async def test_plain_synthesize_sends_one_start_chunks_and_one_stop(fake_daemon: Daemon) -> None:
    reply = await synthesize(fake_daemon, TEXT)  # no voice, as Home Assistant sends without one: the default
    assert reply.types == ["audio-start", "audio-stop"]
    assert reply.formats == {(FAKE_RATE, 2, 1)}
    chunks = [AudioChunk.from_event(e) for e in reply.events if AudioChunk.is_type(e.type)]
    assert max(c.samples for c in chunks) == 1024 and len(chunks) > 3
    samples, rate = reply.samples()
    assert len(samples) / rate == pytest.approx(fake_seconds(TEXT), abs=0.01)
    assert np.sqrt(np.mean(samples**2)) > 0.1


async def test_streaming_sends_each_sentence_as_soon_as_it_is_complete(fake_daemon: Daemon) -> None:
    text = "Welcome home Alice. The heating is on and dinner is ready. Enjoy your evening."
    async with AsyncTcpClient(*uri_parts(fake_daemon)) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice("fake-high")).event())
        for delta in ["Welcome home ", "Alice. The heating ", "is on and "]:
            await client.write_event(SynthesizeChunk(delta).event())
        # the first sentence is complete: its audio comes while the rest of the text is still being written
        early = await read_until(client, "audio-stop", timeout=10)
        assert early.types == ["audio-start", "audio-stop"]
        assert len(early.samples()[0]) / FAKE_RATE == pytest.approx(
            fake_seconds("Welcome home Alice."), abs=0.01
        )
        for delta in ["dinner is ready. ", "Enjoy your ", "evening."]:
            await client.write_event(SynthesizeChunk(delta).event())
        await client.write_event(Synthesize(text, voice=SynthesizeVoice("fake-high")).event())  # ignored
        await client.write_event(SynthesizeStop().event())
        reply = await read_until(client, "synthesize-stopped", reply=early)
    assert reply.types == ["audio-start", "audio-stop"] * 3 + ["synthesize-stopped"]
    assert reply.formats == {(FAKE_RATE, 2, 1)}
    samples, rate = reply.samples()
    # the compat `synthesize` inside the stream added nothing
    assert len(samples) / rate == pytest.approx(fake_seconds(text), abs=0.02)


async def test_errors_become_error_events_and_the_server_goes_on(fake_daemon: Daemon) -> None:
    async with AsyncTcpClient(*uri_parts(fake_daemon)) as client:
        await client.write_event(Synthesize("Hello.", voice=SynthesizeVoice("fake-lo")).event())
        error = (await read_until(client, "error")).errors()[0]
        assert error["code"] == "voice_not_found" and "'fake-low'" in error["text"]  # a close match is named

        await stream(client, "Hi there. Bye.", voice="nobody")
        reply = await read_until(client, "synthesize-stopped")
        assert (
            reply.types == ["error", "synthesize-stopped"] and reply.errors()[0]["code"] == "voice_not_found"
        )

        assert client._writer is not None
        for bad in [b"not json\n", b'{"data": {}}\n', b'{"type": "synthesize", "data": {"text": 5}}\n',
                    b'{"type": "synthesize-chunk", "data": {"text": "x"}}\n',
                    b'{"type": "synthesize", "data_length": 3}\n{x}']:  # fmt: skip
            client._writer.write(bad)
            await client._writer.drain()
            error = (await read_until(client, "error")).errors()[0]
            assert error["code"] == "malformed_event" and error["text"], bad
        await client.write_event(Synthesize("   ").event())
        assert (await read_until(client, "error")).errors()[0]["code"] == "empty_input"
        # the same connection still works
        await client.write_event(Describe().event())
        assert (await read_until(client, "info")).types == ["info"]
        await client.write_event(Synthesize("Still here.").event())
        assert (await read_until(client, "audio-stop")).types == ["audio-start", "audio-stop"]
    # a client vanishing mid-stream harms nobody
    async with AsyncTcpClient(*uri_parts(fake_daemon)) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk("Going away now. Bye").event())
    assert (await synthesize(fake_daemon, "Next client.")).types == ["audio-start", "audio-stop"]
    assert fake_daemon.proc.poll() is None


async def test_four_clients_every_first_sentence_before_any_second(tmp_path: Path) -> None:
    # One worker and 0.3 s per sentence, so the order of sentences is the scheduler's, unambiguously.
    env = {**FAKE_ONLY, **WYOMING, "VOXHUB_ENGINES__FAKE__DELAY_S": "0.3"}
    daemon = start_daemon(tmp_path / "fair", env=env)
    arrivals: list[tuple[str, int]] = []

    async def client(name: str) -> Reply:
        text = f"Client {name} says hello. It has more to say after that. And then it is done."
        async with AsyncTcpClient(*uri_parts(daemon)) as conn:
            await stream(conn, text, voice="fake-low", words_per_delta=2)
            reply = Reply()
            while True:
                await read_until(conn, "audio-start", reply)
                arrivals.append((name, sum(1 for t in reply.types if t == "audio-start")))
                await read_until(conn, "audio-stop", reply)
                if sum(1 for t in reply.types if t == "audio-stop") == 3:
                    return await read_until(conn, "synthesize-stopped", reply)

    try:
        replies = await asyncio.gather(*(client(name) for name in "ABCD"))
    finally:
        daemon.stop()
    assert all(r.types[-1] == "synthesize-stopped" for r in replies)
    firsts = [name for name, sentence in arrivals[:4] if sentence == 1]
    assert sorted(firsts) == ["A", "B", "C", "D"], f"order of sentence audio: {arrivals}"


async def test_piper_voice_over_wyoming_is_speech(tmp_path: Path, transcriber: object) -> None:
    daemon = start_daemon(tmp_path / "piper", env=WYOMING)
    try:
        info = await describe(daemon)
        assert "en_US-joe-medium" in {v.name for v in info.tts[0].voices}
        async with AsyncTcpClient(*uri_parts(daemon)) as client:
            await stream(client, TEXT, voice="en_US-joe-medium")
            reply = await read_until(client, "synthesize-stopped")
    finally:
        daemon.stop()
    assert reply.formats == {(22050, 2, 1)}
    samples, rate = reply.samples()
    seconds = len(samples) / rate
    assert 0.04 * len(TEXT) < seconds < 0.12 * len(TEXT), seconds  # about 15 characters a second
    assert np.sqrt(np.mean(samples**2)) > 0.02, "silent audio"
    heard = transcriber.transcribe(samples, rate, language="en")  # type: ignore[attr-defined]
    assert words(heard.text) == words(TEXT), heard.text


def test_health_check_sends_describe(fake_daemon: Daemon) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "adapters.wyoming.health", fake_daemon.adapter_urls["wyoming"]],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0 and "voxhub with" in ok.stdout, ok.stderr
    down = subprocess.run(
        [sys.executable, "-m", "adapters.wyoming.health", "tcp://127.0.0.1:1"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert down.returncode == 1 and "unhealthy" in down.stderr
