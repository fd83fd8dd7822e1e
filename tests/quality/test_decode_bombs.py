"""Decompression bombs: a small clip that decodes to gigabytes is refused while decoding, before anything is
buffered whole, with an error naming the limit and its setting; the daemon answers 4xx and goes on."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import time
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hub import audio
from hub.errors import BadAudio
from hub.settings import EnrollSettings
from tests.conftest import FAKE_ONLY

LIMITS = EnrollSettings().decode_limits


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """449 KiB of FLAC: 8 channels at 192 kHz for 290 s of silence (1.7 GiB as float samples)."""
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", samplerate=192000, channels=8, format="FLAC", subtype="PCM_16") as f:
        block = np.zeros((192000, 8), dtype=np.int16)
        for _ in range(290):
            f.write(block)
    data = buf.getvalue()
    assert len(data) < 600 << 10
    return data


def _refusal(data: bytes, limits: audio.DecodeLimits) -> tuple[str, float, int]:
    """(error message, seconds, peak bytes traced) of decoding `data` within `limits`."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BadAudio) as caught:
            audio.decode_audio(data, limits=limits)
        return caught.value.message, time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_flac_bomb_is_refused_by_each_bound_quickly_and_in_little_memory(bomb: bytes) -> None:
    message, seconds, peak = _refusal(bomb, LIMITS)
    assert "8 channels" in message and "enroll.max_channels" in message, message
    assert seconds < 2 and peak < 16 << 20, (seconds, peak)
    lifted = dataclasses.replace(LIMITS, max_channels=8)
    message, seconds, peak = _refusal(bomb, lifted)
    assert "192000 Hz" in message and "enroll.max_sample_rate" in message, message
    lifted = dataclasses.replace(lifted, max_rate=192000)
    message, seconds, peak = _refusal(bomb, lifted)
    assert "enroll.max_decoded_mb" in message, message
    assert seconds < 2 and peak < 16 << 20, (seconds, peak)


def test_a_header_without_a_length_is_bounded_while_decoding() -> None:
    """A streamed FLAC (no length in its header, so FFmpeg decodes it): stopped at the decoded-bytes bound."""
    tone = (0.3 * np.sin(np.linspace(0, 2000 * np.pi, 48000 * 30))).astype(np.float32)
    encoder = audio.open_encoder("flac", 48000)  # streaming: the header cannot say how long it is
    pcm = audio.float_to_pcm16(tone)
    data = b"".join(encoder.feed(pcm[i : i + 9600]) for i in range(0, len(pcm), 9600)) + encoder.finish()
    limits = audio.DecodeLimits(max_decoded_bytes=2 << 20)  # about 11 s of 48 kHz mono
    message, _, peak = _refusal(data, limits)
    assert "more than 2 MiB" in message and "enroll.max_decoded_mb" in message, message
    assert peak < 8 << 20, peak  # stopped near the bound: never the whole 30 s
    y, rate = audio.decode_audio(data, limits=audio.DecodeLimits(max_decoded_bytes=8 << 20))
    assert rate == 48000 and len(y) / rate == pytest.approx(30, abs=0.1)


def _rss_kib(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1])


def test_the_daemon_answers_the_bomb_with_a_4xx_and_goes_on(bomb: bytes, daemon_factory: object) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    before = _rss_kib(daemon.proc.pid)
    body = json.dumps({"audio_b64": base64.b64encode(bomb).decode()}).encode()
    request = urllib.request.Request(f"{daemon.api}/quality", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    started = time.perf_counter()
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=60)
    assert 400 <= caught.value.code < 500
    error = json.loads(caught.value.read())["error"]
    assert "enroll.max_channels" in error["message"], error
    assert time.perf_counter() - started < 10
    assert _rss_kib(daemon.proc.pid) - before < 100 * 1024
    with urllib.request.urlopen(f"{daemon.url}/health", timeout=10) as response:
        assert json.loads(response.read())["status"] == "ok"
