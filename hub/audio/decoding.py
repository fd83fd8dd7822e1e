"""Decoding uploaded reference clips to mono float samples, within limits that refuse decompression bombs.

libsndfile (`soundfile`) reads what it can; the FFmpeg that PyAV bundles reads the rest. In memory only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import av.error
import numpy as np
import soundfile as sf

from hub.audio.dsp import resample
from hub.errors import BadAudio

_SF_UNKNOWN_FRAMES = 2**62  # libsndfile reports SF_COUNT_MAX frames when a header leaves the length open
_DURATION_SLACK = 0.25  # seconds over max_seconds tolerated: codec priming/padding, not the speaker
_UPLOAD_HINT = "upload a wav, flac, mp3, ogg, m4a or webm recording"


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
