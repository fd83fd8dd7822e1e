"""Encoding synthesized speech: s16le PCM into mp3, opus, aac, flac, wav or pcm, whole or piece by piece.

`encode` writes one complete file with exact lengths; `open_encoder` streams a file as PCM arrives;
`encode_stream` is the one loop that turns a stream of AudioChunks into encoded bytes for a listener.
libsndfile and the FFmpeg that PyAV bundles do the codec work, in memory.
"""

from __future__ import annotations

import asyncio
import io
import struct
from collections.abc import AsyncIterable, AsyncIterator
from fractions import Fraction
from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream

from engines.core.interface import AudioChunk
from hub.rules import check_format

CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",  # Opus in an Ogg container (RFC 7845)
    "aac": "audio/aac",  # ADTS stream
    "flac": "audio/flac",
    "wav": "audio/wav",
    # Raw s16le: audio/L16 would promise big-endian samples (RFC 2586), so claim nothing more specific.
    "pcm": "application/octet-stream",
}

# format -> (PyAV muxer, encoder, bit rate per channel; 0 = lossless). The bit rates suit speech.
_AV_CODECS: dict[str, tuple[str, str, int]] = {
    "mp3": ("mp3", "libmp3lame", 64_000),
    "opus": ("ogg", "libopus", 32_000),
    "aac": ("adts", "aac", 64_000),
    "flac": ("flac", "flac", 0),
}
_LAYOUTS = {1: "mono", 2: "stereo"}
_WAV_UNKNOWN = 0xFFFFFFFF  # "until end of stream", like OpenAI's streamed wav; libsndfile and FFmpeg cope


class StreamEncoder:
    """Turns s16le PCM into one audio file piece by piece: `feed` what arrives, then `finish` once."""

    def __init__(self, fmt: str, rate: int, channels: int) -> None:
        if rate <= 0 or channels <= 0:
            raise ValueError(f"bad PCM layout: rate={rate}, channels={channels}")
        self.fmt = fmt
        self.rate = rate
        self.channels = channels
        self._carry = b""  # a partial sample frame left over from the last feed
        self._finished = False

    def feed(self, pcm: bytes) -> bytes:
        """Encode more s16le PCM and return the bytes that are ready to send now (possibly b"")."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        data = self._carry + pcm
        whole = len(data) - len(data) % (2 * self.channels)
        self._carry = data[whole:]
        return self._encode(data[:whole])

    def finish(self) -> bytes:
        """Flush the encoder and return the rest of the file; later calls return b""."""
        if self._finished:
            return b""
        self._finished = True
        return self._flush()

    def _encode(self, pcm: bytes) -> bytes:
        raise NotImplementedError

    def _flush(self) -> bytes:
        return b""


class _PcmEncoder(StreamEncoder):
    def _encode(self, pcm: bytes) -> bytes:
        return pcm


def _wav_header(rate: int, channels: int, data_bytes: int | None) -> bytes:
    """A 44-byte PCM s16le WAVE header; `None` sizes mean "until end of stream"."""
    riff = _WAV_UNKNOWN if data_bytes is None else 36 + data_bytes
    data = _WAV_UNKNOWN if data_bytes is None else data_bytes
    block = channels * 2
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", riff, b"WAVE", b"fmt ", 16, 1, channels, rate, rate * block, block, 16,
        b"data", data,
    )  # fmt: skip


class _WavEncoder(StreamEncoder):
    def __init__(self, fmt: str, rate: int, channels: int) -> None:
        super().__init__(fmt, rate, channels)
        self._header_sent = False

    def _header(self) -> bytes:
        if self._header_sent:
            return b""
        self._header_sent = True
        return _wav_header(self.rate, self.channels, None)

    def _encode(self, pcm: bytes) -> bytes:
        return self._header() + pcm

    def _flush(self) -> bytes:
        return self._header()  # an empty but valid file when nothing was fed


class _Sink:
    """A write-only, non-seekable file for PyAV: the muxer cannot go back and patch bytes already sent."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def write(self, data: bytes) -> int:
        self._buf += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data


def _codec_rate(codec: str, rate: int) -> int:
    """The rate to encode at: `rate` itself, else the next supported one up (Opus: 22050 -> 24000)."""
    rates = sorted(av.Codec(codec, "w").audio_rates or ())
    if not rates or rate in rates:
        return rate
    return next((r for r in rates if r >= rate), rates[-1])


class _AVEncoder(StreamEncoder):
    """mp3/opus/aac/flac through PyAV. Seekable output lets the muxer write exact lengths (one-shot use)."""

    def __init__(self, fmt: str, rate: int, channels: int, *, seekable: bool = False) -> None:
        super().__init__(fmt, rate, channels)
        if channels not in _LAYOUTS:
            raise ValueError(f"{fmt} encoding supports mono or stereo, not {channels} channels")
        muxer, codec, bit_rate = _AV_CODECS[fmt]
        self._out: io.BytesIO | _Sink = io.BytesIO() if seekable else _Sink()
        # Hand each packet to the sink at once, not when a 32 KiB I/O buffer fills (FFmpeg's default for
        # non-seekable output, made explicit because streaming depends on it).
        options = {"flush_packets": "1"}
        if muxer == "ogg":
            options["page_duration"] = "100000"  # close an Ogg page every 100 ms, not every second
        self._container = av.open(self._out, "w", format=muxer, container_options=options)
        stream = self._container.add_stream(codec, rate=_codec_rate(codec, rate), layout=_LAYOUTS[channels])
        self._stream = cast(AudioStream, stream)
        if bit_rate:
            self._stream.bit_rate = bit_rate * channels
        self._pts = 0

    def _take(self) -> bytes:
        return self._out.take() if isinstance(self._out, _Sink) else b""

    def _encode(self, pcm: bytes) -> bytes:
        if not pcm:
            return b""
        # Packed s16 frames are one plane of interleaved samples; PyAV's encoder resamples to the codec's
        # rate and sample format and cuts the codec's frame size.
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=_LAYOUTS[self.channels])
        frame.sample_rate = self.rate
        frame.time_base = Fraction(1, self.rate)
        frame.pts = self._pts
        self._pts += samples.shape[1] // self.channels
        self._container.mux(self._stream.encode(frame))
        return self._take()

    def _flush(self) -> bytes:
        self._container.mux(self._stream.encode(None))
        self._container.close()  # writes the trailer
        return self._out.getvalue() if isinstance(self._out, io.BytesIO) else self._take()


def open_encoder(fmt: str, rate: int, channels: int = 1) -> StreamEncoder:
    """Start a streaming encoder that turns s16le PCM at `rate` Hz into a `fmt` file."""
    check_format(fmt)
    if fmt == "pcm":
        return _PcmEncoder(fmt, rate, channels)
    if fmt == "wav":
        return _WavEncoder(fmt, rate, channels)
    return _AVEncoder(fmt, rate, channels)


def encode(fmt: str, chunk: AudioChunk) -> bytes:
    """Encode a whole s16le chunk as one complete `fmt` file, with exact lengths in its headers."""
    check_format(fmt)
    if chunk.width != 2:
        raise ValueError(f"expected 16-bit PCM, got {chunk.width * 8}-bit")
    audio = chunk.audio[: chunk.samples * 2 * chunk.channels]
    if fmt == "pcm":
        return audio
    if fmt == "wav":
        return _wav_header(chunk.rate, chunk.channels, len(audio)) + audio
    encoder = _AVEncoder(fmt, chunk.rate, chunk.channels, seekable=True)
    return encoder.feed(audio) + encoder.finish()


UNCOMPRESSED = ("pcm", "wav")
"""Formats cheap enough to encode on the event loop; the compressed ones cost real CPU and go to a thread."""


async def encode_async(fmt: str, chunk: AudioChunk) -> bytes:
    """`encode`, off the event loop for compressed formats."""
    return encode(fmt, chunk) if fmt in UNCOMPRESSED else await asyncio.to_thread(encode, fmt, chunk)


async def encode_stream(fmt: str, chunks: AsyncIterable[AudioChunk]) -> AsyncIterator[bytes]:
    """The `fmt` file of `chunks` (s16le, the layout of the first), in pieces to send as they are ready.

    Compressed formats cost real CPU per sentence, so they are encoded in a thread, off the event loop;
    wav and pcm are not. FLAC comes as one exact file once every chunk is in: a streamed FLAC cannot carry
    its length (STREAMINFO comes first), and common readers such as libsndfile then misreport it. Nothing is
    yielded for an empty stream, nor empty pieces.
    """
    check_format(fmt)
    offload = fmt not in UNCOMPRESSED
    iterator = aiter(chunks)
    first = await anext(iterator, None)
    if first is None:
        return
    if fmt == "flac":
        pcm = [first.audio] + [chunk.audio async for chunk in iterator]
        whole = AudioChunk(first.rate, first.width, first.channels, b"".join(pcm))
        yield await encode_async(fmt, whole)
        return
    encoder = open_encoder(fmt, first.rate, first.channels)

    async def feed(pcm: bytes) -> bytes:
        return await asyncio.to_thread(encoder.feed, pcm) if offload else encoder.feed(pcm)

    if data := await feed(first.audio):
        yield data
    async for chunk in iterator:
        if data := await feed(chunk.audio):
            yield data
    if data := await asyncio.to_thread(encoder.finish) if offload else encoder.finish():
        yield data
