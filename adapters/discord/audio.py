"""Hub audio → what Discord plays: 48 kHz 16-bit stereo PCM in 20 ms frames (3840 bytes each)."""

from __future__ import annotations

import av
import numpy as np

from hub.api import AudioChunk

RATE = 48000
CHANNELS = 2
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000 * CHANNELS * 2  # 3840


class Resampler:
    """Resamples a stream of 16-bit chunks (any rate, mono or stereo) to 48 kHz stereo with PyAV
    (FFmpeg's swresample), keeping filter state across chunks so sentence joins stay seamless."""

    def __init__(self) -> None:
        self._resampler: av.AudioResampler | None = None
        self._source: tuple[int, int] | None = None

    def feed(self, chunk: AudioChunk) -> bytes:
        """48 kHz stereo s16 PCM for `chunk` (some of it may come out on a later call or `flush`)."""
        if chunk.width != 2:
            raise ValueError(f"expected 16-bit audio, got {chunk.width * 8}-bit")
        out = b""
        if self._source != (chunk.rate, chunk.channels):
            out = self.flush()  # a new format mid-stream: finish the old one, start afresh
            self._source = (chunk.rate, chunk.channels)
            self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
        samples = np.frombuffer(chunk.audio, dtype="<i2")
        if not len(samples):
            return out
        if chunk.channels == 1:
            # Duplicate mono ourselves: swresample's mono→stereo upmix lowers the level by 3 dB.
            samples = np.repeat(samples, 2)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = chunk.rate
        return out + self._run(frame)

    def flush(self) -> bytes:
        """The samples still inside the filter."""
        if self._resampler is None:
            return b""
        out = self._run(None)
        self._resampler, self._source = None, None
        return out

    def _run(self, frame: av.AudioFrame | None) -> bytes:
        assert self._resampler is not None
        return b"".join(bytes(f.to_ndarray().tobytes()) for f in self._resampler.resample(frame))


def frames(pcm: bytes) -> tuple[list[bytes], bytes]:
    """Whole 20 ms frames of `pcm` and the remainder."""
    whole = len(pcm) - len(pcm) % FRAME_BYTES
    return [pcm[i : i + FRAME_BYTES] for i in range(0, whole, FRAME_BYTES)], pcm[whole:]


def pad(pcm: bytes) -> bytes:
    """A short last frame filled up with silence."""
    return pcm + bytes(FRAME_BYTES - len(pcm)) if pcm else b""
