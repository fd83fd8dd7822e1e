"""In-memory audio: streaming encoders for synthesized speech, and decoding of uploaded reference clips.

Everything stays in memory: libsndfile (`soundfile`) and the FFmpeg that PyAV bundles do the codec work,
with no temp files and no ffmpeg binary.
"""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import av.error
import numpy as np
import soundfile as sf
from av.audio.stream import AudioStream

from engines.core.interface import AudioChunk
from hub.errors import BadAudio, UnsupportedFormat

FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")

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
_SF_UNKNOWN_FRAMES = 2**62  # libsndfile reports SF_COUNT_MAX frames when a header leaves the length open
_DURATION_SLACK = 0.25  # seconds over max_seconds tolerated: codec priming/padding, not the speaker
_UPLOAD_HINT = "upload a wav, flac, mp3, ogg, m4a or webm recording"


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UnsupportedFormat(
            f"unsupported audio format {fmt!r}; use one of: {', '.join(FORMATS)}", param="response_format"
        )


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
    _check_format(fmt)
    if fmt == "pcm":
        return _PcmEncoder(fmt, rate, channels)
    if fmt == "wav":
        return _WavEncoder(fmt, rate, channels)
    return _AVEncoder(fmt, rate, channels)


def encode(fmt: str, chunk: AudioChunk) -> bytes:
    """Encode a whole s16le chunk as one complete `fmt` file, with exact lengths in its headers."""
    _check_format(fmt)
    if chunk.width != 2:
        raise ValueError(f"expected 16-bit PCM, got {chunk.width * 8}-bit")
    audio = chunk.audio[: chunk.samples * 2 * chunk.channels]
    if fmt == "pcm":
        return audio
    if fmt == "wav":
        return _wav_header(chunk.rate, chunk.channels, len(audio)) + audio
    encoder = _AVEncoder(fmt, chunk.rate, chunk.channels, seekable=True)
    return encoder.feed(audio) + encoder.finish()


def pcm16_to_float(b: bytes) -> np.ndarray:
    """s16le bytes -> float32 samples in [-1, 1)."""
    return np.frombuffer(b, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(x: np.ndarray) -> bytes:
    """Float samples -> s16le bytes, rounded and clipped (NaN becomes silence)."""
    # nan_to_num: a NaN from a misbehaving model must not become an arbitrary integer (or a warning).
    scaled = np.rint(np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling of mono float samples (libswresample, 64-tap windowed sinc)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"resample() takes mono samples, got shape {x.shape}")
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"bad sample rates: {src_rate} -> {dst_rate}")
    if src_rate == dst_rate or x.size == 0:
        return x.copy()
    # The longer filter and 0.95 cutoff push aliasing from about -60 dB (swr's default) below -90 dB.
    resampler = av.AudioResampler(
        format="flt", layout="mono", rate=dst_rate, options={"filter_size": "64", "cutoff": "0.95"}
    )
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x).reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = src_rate
    frames = resampler.resample(frame) + resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32, copy=False)


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds on what decoding an upload may cost, checked from the header and again frame by frame, so a
    small file that decodes to gigabytes (a decompression bomb) is refused before it is buffered."""

    max_seconds: float | None = None
    max_channels: int | None = None
    max_rate: int | None = None
    max_decoded_bytes: int | None = None
    """Decoded PCM of all channels, as 32-bit floats (what the decoder has to produce)."""

    def check_layout(self, channels: int, rate: int) -> None:
        if self.max_channels is not None and channels > self.max_channels:
            raise BadAudio(
                f"the audio has {channels} channels, over the {self.max_channels} allowed "
                "(enroll.max_channels): export it as mono or stereo"
            )
        if self.max_rate is not None and rate > self.max_rate:
            raise BadAudio(
                f"the audio's sample rate is {rate} Hz, over the {self.max_rate} Hz allowed "
                "(enroll.max_sample_rate): export it at 48000 Hz or less"
            )

    def check_size(self, frames: float, channels: int, rate: int, *, exact: bool) -> None:
        """`frames` per channel so far (`exact`: the whole file's length, from its header)."""
        if self.max_seconds is not None and frames / rate > self.max_seconds + _DURATION_SLACK:
            raise _too_long(frames / rate if exact else None, self.max_seconds)
        if self.max_decoded_bytes is not None and frames * channels * 4 > self.max_decoded_bytes:
            raise BadAudio(
                f"the audio decodes to more than {self.max_decoded_bytes >> 20} MiB "
                "(enroll.max_decoded_mb): send a shorter clip with fewer channels or a lower sample rate"
            )


def _too_long(seconds: float | None, max_seconds: float) -> BadAudio:
    if seconds is None:  # found while decoding: how much longer is not known
        return BadAudio(
            f"the audio is longer than the {max_seconds:g} s allowed (enroll.max_seconds); trim it and try again"
        )
    return BadAudio(
        f"the audio is {seconds:.1f} s long but at most {max_seconds:g} s is allowed (enroll.max_seconds); "
        "trim it and try again"
    )


def _decode_soundfile(data: bytes, limits: DecodeLimits) -> tuple[np.ndarray, int] | None:
    """Mono float32 and the rate, or None when libsndfile cannot do this file."""
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if not 0 < f.frames < _SF_UNKNOWN_FRAMES:
                return None  # length unknown (streamed wav/flac): let FFmpeg read it to the end
            # From the header, before decoding anything; then read block by block, mixed down at once.
            limits.check_layout(f.channels, f.samplerate)
            limits.check_size(f.frames, f.channels, f.samplerate, exact=True)
            parts, total = [], 0
            while len(block := f.read(1 << 16, dtype="float32", always_2d=True)):
                total += len(block)
                limits.check_size(total, f.channels, f.samplerate, exact=False)  # in case the header lied
                parts.append(block.mean(axis=1, dtype=np.float32) if f.channels > 1 else block[:, 0].copy())
            mono = np.concatenate(parts) if parts else np.zeros(0, np.float32)
            return (mono, f.samplerate) if len(mono) else None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None  # not a libsndfile format, or damaged: FFmpeg is more forgiving


def _frame_to_float(frame: av.AudioFrame) -> np.ndarray:
    """One decoded frame as (channels, samples) float32."""
    a = frame.to_ndarray()
    if not frame.format.is_planar:
        a = a.reshape(-1, frame.layout.nb_channels).T
    if a.dtype.kind == "f":
        return a.astype(np.float32, copy=False)
    if a.dtype == np.uint8:
        return (a.astype(np.float32) - 128.0) / 128.0
    return (a / 2.0 ** (8 * a.dtype.itemsize - 1)).astype(np.float32)  # s16/s32 full scale


def _decode_pyav(data: bytes, limits: DecodeLimits) -> tuple[np.ndarray, int]:
    try:
        container = av.open(io.BytesIO(data), "r")
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc  # FFmpeg's words, without errno and file name
        raise BadAudio(
            f"could not read the upload as audio ({reason}): it is damaged, truncated or not audio at all; "
            f"{_UPLOAD_HINT}"
        ) from exc
    with container:
        if not container.streams.audio:
            raise BadAudio(f"the file has no audio track; {_UPLOAD_HINT}")
        stream = container.streams.audio[0]
        context = stream.codec_context  # None when FFmpeg has no decoder for what the header names
        if context is None:
            raise BadAudio(f"the file's audio codec is unknown or damaged; {_UPLOAD_HINT}")
        limits.check_layout(context.channels or 0, context.sample_rate or 0)
        if stream.duration is not None and stream.time_base is not None:
            header_seconds: float | None = float(stream.duration * stream.time_base)
        else:
            header_seconds = container.duration / av.time_base if container.duration else None
        if (
            limits.max_seconds is not None
            and header_seconds
            and header_seconds > limits.max_seconds + _DURATION_SLACK
        ):
            raise _too_long(header_seconds, limits.max_seconds)
        parts: list[np.ndarray] = []
        rate, channels, total = 0, 0, 0
        try:
            for frame in container.decode(stream):
                rate = rate or frame.sample_rate
                part = _frame_to_float(frame)
                if channels and part.shape[0] != channels:
                    break  # the channel layout changed mid-stream: keep what came before
                channels = part.shape[0]
                # Headers can lie: every frame is checked before it is kept, and kept mixed down.
                limits.check_layout(channels, frame.sample_rate)
                total += part.shape[1]
                limits.check_size(total, channels, rate, exact=False)
                parts.append(part.mean(axis=0, dtype=np.float32) if channels > 1 else part[0].copy())
        except av.error.FFmpegError:
            if not parts:
                msg = f"the audio is damaged or truncated and decodes to nothing; {_UPLOAD_HINT}"
                raise BadAudio(msg) from None
            # A truncated or damaged tail: keep the audio decoded up to it.
    if not total:
        raise BadAudio(f"the file contains no audio (empty or truncated?); {_UPLOAD_HINT}")
    return np.concatenate(parts), rate


def decode_audio(
    data: bytes,
    *,
    target_rate: int | None = None,
    max_seconds: float | None = None,
    limits: DecodeLimits | None = None,
) -> tuple[np.ndarray, int]:
    """Decode an uploaded clip to mono float32 in [-1, 1] and its rate (`target_rate` if given), within
    `limits` (or just `max_seconds`): refused with BadAudio naming the limit as soon as one is passed."""
    if not data:
        raise BadAudio(f"the audio upload is empty; {_UPLOAD_HINT}")
    limits = limits or DecodeLimits(max_seconds=max_seconds)
    decoded = _decode_soundfile(data, limits)
    mono, rate = decoded if decoded is not None else _decode_pyav(data, limits)
    if target_rate and target_rate != rate:
        mono, rate = resample(mono, rate, target_rate), target_rate
    # Lossy decoders overshoot slightly past full scale; callers were promised [-1, 1].
    return np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False), rate


async def encode_stream(fmt: str, chunks: AsyncIterator[AudioChunk]) -> AsyncIterator[bytes]:
    """`chunks` as one `fmt` file, piece by piece as they arrive; compressed formats encode off the event loop.
    FLAC comes as one exact file at the end: a streamed FLAC cannot carry its length (STREAMINFO comes first)
    and common readers such as libsndfile then misreport it."""
    import asyncio

    if fmt == "flac":
        parts = [chunk async for chunk in chunks]
        if parts:
            first = parts[0]
            whole = AudioChunk(first.rate, first.width, first.channels, b"".join(p.audio for p in parts))
            yield await asyncio.to_thread(encode, fmt, whole)
        return
    encoder: StreamEncoder | None = None
    offload = fmt not in ("pcm", "wav")  # compressed formats cost real CPU per sentence
    async for chunk in chunks:
        encoder = encoder or open_encoder(fmt, chunk.rate, chunk.channels)
        yield await asyncio.to_thread(encoder.feed, chunk.audio) if offload else encoder.feed(chunk.audio)
    if encoder is not None:
        yield await asyncio.to_thread(encoder.finish) if offload else encoder.finish()
