"""hub.audio.encode_stream: the one loop that encodes a stream of AudioChunks for a listener."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator

import av
import numpy as np
import pytest
import soundfile as sf

from engines.core.interface import AudioChunk
from hub import audio, rules
from hub.errors import UnsupportedFormat

RATE = 22050
# What a decoder may add to a streamed file, which ADTS and a streamed mp3 cannot signal: codec priming and
# last-frame padding. AAC: up to 2 x 1024 samples; LAME: 1105 samples of priming plus up to a 1152-sample frame.
PADDING_S = {"mp3": (1105 + 1152) / RATE, "aac": 2 * 1024 / RATE, "opus": 0.010}


def sentences(n: int = 4, seconds: float = 0.5) -> list[AudioChunk]:
    t = np.arange(round(RATE * seconds)) / RATE
    pcm = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes()
    return [AudioChunk(RATE, 2, 1, pcm) for _ in range(n)]


async def arrive(chunks: list[AudioChunk]) -> AsyncIterator[AudioChunk]:
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk


def encode_all(fmt: str, chunks: list[AudioChunk]) -> list[bytes]:
    async def run() -> list[bytes]:
        return [piece async for piece in audio.encode_stream(fmt, arrive(chunks))]

    return asyncio.run(run())


def decoded_samples(data: bytes) -> int:
    with av.open(io.BytesIO(data), "r") as container:
        return sum(frame.samples for frame in container.decode(audio=0))


@pytest.mark.parametrize("fmt", rules.OUTPUT_FORMATS)
def test_every_format_decodes_to_the_length_sent(fmt: str) -> None:
    chunks = sentences()
    pieces = encode_all(fmt, chunks)
    assert all(pieces), "no empty pieces"
    data = b"".join(pieces)
    sent = sum(c.samples for c in chunks)
    if fmt == "pcm":
        assert data == b"".join(c.audio for c in chunks)
        return
    if fmt == "wav":
        decoded, rate = sf.read(io.BytesIO(data), dtype="int16")
        assert rate == RATE and decoded.tobytes() == b"".join(c.audio for c in chunks)
        return
    samples = decoded_samples(data)
    rate = 48000 if fmt == "opus" else RATE  # Opus decodes at 48 kHz
    assert sent / RATE <= samples / rate + 0.001
    assert samples / rate <= sent / RATE + PADDING_S.get(fmt, 0.0) + 0.001


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "wav", "pcm"])
def test_streamed_formats_come_piece_by_piece(fmt: str) -> None:
    assert len(encode_all(fmt, sentences(n=6))) >= 3


def test_flac_is_one_exact_file() -> None:
    chunks = sentences()
    pieces = encode_all("flac", chunks)
    whole = AudioChunk(RATE, 2, 1, b"".join(c.audio for c in chunks))
    assert pieces == [audio.encode("flac", whole)]
    info = sf.info(io.BytesIO(pieces[0]))
    assert (info.frames, info.samplerate) == (whole.samples, RATE)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac"])
def test_compressed_formats_are_encoded_off_the_event_loop(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[str] = set()
    real_to_thread = asyncio.to_thread

    async def spy(func, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        def run():  # type: ignore[no-untyped-def]
            threads.add(threading.current_thread().name)
            return func(*args, **kwargs)

        return await real_to_thread(run)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    assert encode_all(fmt, sentences(n=2))
    assert threads and threading.main_thread().name not in threads


@pytest.mark.parametrize("fmt", ["wav", "pcm"])
def test_wav_and_pcm_stay_on_the_event_loop(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("wav and pcm are cheap: no thread")

    monkeypatch.setattr(asyncio, "to_thread", refuse)
    assert encode_all(fmt, sentences(n=2))


def test_an_empty_stream_yields_nothing() -> None:
    assert encode_all("mp3", []) == [] and encode_all("flac", []) == []


def test_an_unknown_format_is_refused_with_the_rule_wording() -> None:
    with pytest.raises(UnsupportedFormat) as err:
        encode_all("ogg", sentences(n=1))
    assert (
        err.value.message
        == "response_format 'ogg' is not supported: use one of mp3, opus, aac, flac, wav, pcm"
    )
