"""Fuzzing (hypothesis, bounded): the Wyoming frame reader, the MQTT command parser and the audio decoders
either succeed within their bounds or raise their own clear error; never another exception, never a hang."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.mqtt import commands
from adapters.wyoming.events import STREAM_LIMIT, MalformedEvent, read_event
from engines.core.interface import AudioChunk
from hub import audio
from hub.errors import BadAudio
from hub.text import PrefixScanner

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_FRAME = 4096

# --- Wyoming frames -------------------------------------------------------------------------------------


async def _read_all(data: bytes) -> list[Any]:
    """Every event in `data`, as the server reads them; stops at the end or at a fatal frame."""
    reader = asyncio.StreamReader(limit=STREAM_LIMIT)
    reader.feed_data(data)
    reader.feed_eof()
    events: list[Any] = []
    for _ in range(len(data) + 1):  # each event consumes at least one byte: this cannot loop forever
        try:
            event = await read_event(reader, MAX_FRAME)
        except MalformedEvent as exc:
            assert str(exc)
            if exc.fatal:
                return events
            continue
        except asyncio.IncompleteReadError:
            return events  # the stream ended inside an event: the connection just ends
        if event is None:
            return events
        assert isinstance(event.data, dict)
        assert len(event.payload or b"") <= MAX_FRAME
        events.append(event)
    raise AssertionError("the reader did not make progress")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
_LENGTH = st.one_of(st.integers(-10, 10), st.integers(-(1 << 40), 1 << 40), st.sampled_from([MAX_FRAME, MAX_FRAME + 1]),
                    st.text(max_size=3), st.none(), st.floats())  # fmt: skip


@st.composite
def _frames(draw: st.DrawFn) -> bytes:
    header: dict[str, Any] = {"type": draw(st.sampled_from(["synthesize", "describe", "x"]) | st.integers())}
    for key in ("data", "data_length", "payload_length"):
        if draw(st.booleans()):
            header[key] = draw(_JSON if key == "data" else _LENGTH)
    body = draw(st.binary(max_size=64))
    return json.dumps(header).encode() + b"\n" + body


@FUZZ
@given(st.binary(max_size=2048))
def test_the_wyoming_reader_survives_random_bytes(data: bytes) -> None:
    asyncio.run(_read_all(data))


@FUZZ
@given(st.lists(_frames(), min_size=1, max_size=5))
def test_the_wyoming_reader_survives_odd_headers(frames: list[bytes]) -> None:
    asyncio.run(_read_all(b"".join(frames)))


# --- MQTT commands --------------------------------------------------------------------------------------

_PARSERS = [
    lambda p: commands.parse_say(p, max_bytes=1 << 16),
    lambda p: commands.parse_enroll(p, max_bytes=1 << 16),
    lambda p: commands.parse_check(p, max_bytes=1 << 16),
    lambda p: commands.parse_hermes_say(p, max_bytes=1 << 16, new_id="fresh"),
]
_KEYS = st.sampled_from(["id", "text", "voice", "target", "format", "speed", "name", "audio_b64", "url",
                         "transcript", "language", "replace", "siteId", "sessionId", "lang", "other"])  # fmt: skip


def _parse_all(payload: bytes) -> None:
    for parse in _PARSERS:
        try:
            command = parse(payload)
        except commands.BadCommand as exc:
            assert exc.message and exc.code
            continue
        target = getattr(command, "target", None)
        assert target is None or commands.valid_target(target)


@FUZZ
@given(st.binary(max_size=512))
def test_the_mqtt_parser_survives_random_bytes(payload: bytes) -> None:
    _parse_all(payload)


@FUZZ
@given(st.dictionaries(_KEYS, _JSON, max_size=6))
def test_the_mqtt_parser_survives_odd_json(body: dict[str, Any]) -> None:
    _parse_all(json.dumps(body).encode())


# --- audio decoders -------------------------------------------------------------------------------------

LIMITS = audio.DecodeLimits(max_seconds=5, max_channels=2, max_rate=48000, max_decoded_bytes=4 << 20)


def _tone_files() -> dict[str, bytes]:
    rate = 16000
    t = np.arange(rate // 2) / rate
    pcm = audio.float_to_pcm16(0.3 * np.sin(2 * np.pi * 440 * t))
    chunk = AudioChunk(rate, 2, 1, pcm)
    return {fmt: audio.encode(fmt, chunk) for fmt in ("wav", "flac", "opus", "mp3")}


SAMPLES = _tone_files()


def _decode_or_refuse(data: bytes) -> None:
    started = time.perf_counter()
    try:
        y, rate = audio.decode_audio(data, limits=LIMITS)
    except BadAudio as exc:
        assert exc.message
    else:
        assert y.dtype == np.float32 and y.ndim == 1 and len(y) > 0
        assert 0 < rate <= 48000 and len(y) / rate <= 5 + 0.3
        assert float(np.max(np.abs(y))) <= 1.0
    assert time.perf_counter() - started < 10, "decoding took too long"


@FUZZ
@given(st.binary(max_size=4096))
def test_the_decoders_survive_random_bytes(data: bytes) -> None:
    _decode_or_refuse(data)


@FUZZ
@given(
    st.sampled_from(sorted(SAMPLES)),
    st.lists(st.tuples(st.integers(0, 95), st.integers(0, 255)), min_size=1, max_size=8),
    st.one_of(st.none(), st.integers(1, 4000)),
)
def test_the_decoders_survive_mutated_headers(
    fmt: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(SAMPLES[fmt])
    for position, value in edits:  # the header lives in the first bytes of every one of these formats
        data[position % len(data)] = value
    _decode_or_refuse(bytes(data[:cut] if cut else data))


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_the_unmutated_samples_decode(fmt: str) -> None:
    y, rate = audio.decode_audio(SAMPLES[fmt], limits=LIMITS)  # the fuzzing starts from valid files
    assert 0.4 < len(y) / rate < 0.7


# --- streamed text --------------------------------------------------------------------------------------


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("ab A.!?,;:\n\"')1 ")), max_size=600), st.integers(1, 40))
def test_the_prefix_scanner_loses_and_repeats_nothing(text: str, step: int) -> None:
    scanner, pieces = PrefixScanner(max_chars=50), []
    for i in range(0, len(text), step):
        scanner.add(text[i : i + step])
        pieces.append(scanner.take())
    assert "".join(pieces) + scanner.text == text
