"""The Discord adapter's audio path and per-guild queue, without Discord: resampling to 48 kHz stereo frames,
the streaming AudioSource, and queue order / independence / stop / idle disconnect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from adapters.discord.audio import FRAME_BYTES, Resampler, frames
from adapters.discord.playback import SILENCE, GuildPlayer, SayJob, StreamSource
from hub.api import AudioChunk


def _sine(rate: int, seconds: float, hz: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = (np.sin(2 * np.pi * hz * t) * 12000).astype("<i2")
    return np.repeat(mono, channels) if channels == 2 else mono


def _peak_hz(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.argmax(spectrum) * rate / len(signal))


@pytest.mark.parametrize("channels", [1, 2])
def test_a_22050_hz_sine_becomes_48k_stereo_frames_at_the_same_pitch(channels: int) -> None:
    samples = _sine(22050, 1.0, 440.0, channels)
    resampler = Resampler()
    pcm = b""
    step = 1023 * channels  # odd pieces, like sentence chunks that do not line up with frames
    for start in range(0, len(samples), step):
        pcm += resampler.feed(AudioChunk(22050, 2, channels, samples[start : start + step].tobytes()))
    pcm += resampler.flush()
    whole, rest = frames(pcm)
    assert all(len(f) == FRAME_BYTES == 3840 for f in whole)
    stereo = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2).astype(np.float64)
    assert abs(len(stereo) / 48000 - 1.0) < 0.005
    assert np.array_equal(stereo[:, 0], stereo[:, 1])
    assert abs(_peak_hz(stereo[:, 0], 48000) - 440.0) < 2.0
    # No clicks at the chunk joins: the filter keeps its state across chunks.
    steepest = 12000 * 2 * np.pi * 440 / 48000  # a 440 Hz sine of this level changes at most this much
    assert np.abs(np.diff(stereo[8:-8, 0])).max() < steepest * 1.05
    assert abs(np.abs(stereo[48:-48, 0]).max() - 12000) < 300  # same level (no 3 dB upmix loss)
    assert len(rest) < FRAME_BYTES


def test_the_stream_source_plays_frames_in_order_pads_the_last_and_fills_gaps_with_silence() -> None:
    source = StreamSource()
    assert source.read() == SILENCE  # synthesis is behind: keep time with silence
    first, second = bytes([1]) * FRAME_BYTES, bytes([2]) * (FRAME_BYTES // 2)
    source.push(first[:1000])
    assert source.read() == SILENCE  # not a whole frame yet
    source.push(first[1000:] + second)
    assert source.read() == first
    source.finish()
    assert source.read() == second + bytes(FRAME_BYTES // 2)
    assert source.read() == b""  # the end: discord.py's player stops


@dataclass
class FakeStream:
    closed: bool = False

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class FakeVoice:
    disconnects: int = 0

    async def disconnect(self, force: bool = False) -> None:
        self.disconnects += 1


@dataclass
class FakeGuild:
    id: int
    voice_client: Any = field(default_factory=FakeVoice)


class RecordingPlayer(GuildPlayer):
    def __init__(
        self, guild: Any, log: list[tuple[str, str]], seconds: float = 0.05, idle: float = 60
    ) -> None:
        super().__init__(guild, idle)
        self.log, self.seconds = log, seconds

    async def _play(self, job: SayJob) -> None:
        self.log.append((f"g{self.guild.id}", f"start {job.channel}"))
        await asyncio.sleep(self.seconds)
        self.log.append((f"g{self.guild.id}", f"end {job.channel}"))


def _job(name: str) -> SayJob:
    async def report(message: str) -> None:
        return None

    return SayJob(FakeStream(), name, report)  # type: ignore[arg-type]


async def test_requests_play_in_order_and_a_second_guild_never_waits() -> None:
    log: list[tuple[str, str]] = []
    slow = RecordingPlayer(FakeGuild(1), log, seconds=0.3)
    fast = RecordingPlayer(FakeGuild(2), log, seconds=0.01)
    assert [slow.add(_job(n)) for n in ("a", "b", "c")] == [0, 1, 2]
    await asyncio.sleep(0.02)
    fast.add(_job("x"))
    await asyncio.sleep(0.1)
    assert ("g2", "end x") in log and (
        "g1",
        "end a",
    ) not in log  # guild 2 finished while guild 1 still speaks
    await asyncio.sleep(0.9)
    assert [e for g, e in log if g == "g1"] == ["start a", "end a", "start b", "end b", "start c", "end c"]
    await slow.close()
    await fast.close()


async def test_stop_drops_the_queue_and_interrupts_the_current_request() -> None:
    log: list[tuple[str, str]] = []
    player = RecordingPlayer(FakeGuild(1), log, seconds=5)
    jobs = [_job(n) for n in ("a", "b", "c")]
    for job in jobs:
        player.add(job)
    await asyncio.sleep(0.05)
    assert await player.stop() == 3
    await asyncio.sleep(0.05)
    assert log == [("g1", "start a")] and not player.busy
    assert jobs[1].stream.closed and jobs[2].stream.closed  # type: ignore[attr-defined]
    player.add(_job("d"))  # the player still serves new requests after a stop
    await asyncio.sleep(0.05)
    assert ("g1", "start d") in log
    await player.close()


async def test_an_idle_player_leaves_voice() -> None:
    guild = FakeGuild(1)
    player = RecordingPlayer(guild, [], idle=0.1)
    await asyncio.sleep(0.35)
    assert guild.voice_client.disconnects >= 1
    await player.close()
