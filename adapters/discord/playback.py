"""Speaking in voice channels: one queue per guild, each request streamed from the Hub to an AudioSource.

The first sentence plays while later ones are still being synthesized: chunks are resampled as they
arrive and handed to discord.py's player thread through `StreamSource`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord

from adapters.discord.audio import FRAME_BYTES, Resampler, frames, pad
from hub.api import SpeechStream, VoxhubError

log = logging.getLogger("voxhub.discord")

UNDERRUN_WAIT_S = 0.005
SILENCE = bytes(FRAME_BYTES)
CONNECT_TIMEOUT_S = 20.0
RECONNECT_WAIT_S = 5.0


class CannotJoin(Exception):
    """The voice connection could not be made; the message is for the member."""


class StreamSource(discord.AudioSource):
    """PCM frames pushed from the event loop, read by discord.py's player thread every 20 ms."""

    def __init__(self) -> None:
        self._frames: collections.deque[bytes] = collections.deque()
        self._partial = b""
        self._lock = threading.Condition()
        self._finished = False

    def push(self, pcm: bytes) -> None:
        whole, self._partial = frames(self._partial + pcm)
        with self._lock:
            self._frames.extend(whole)
            self._lock.notify()

    def finish(self) -> None:
        """No more audio: play what is left, then end."""
        with self._lock:
            if self._partial:
                self._frames.append(pad(self._partial))
                self._partial = b""
            self._finished = True
            self._lock.notify()

    def read(self) -> bytes:
        with self._lock:
            if not self._frames and not self._finished:
                self._lock.wait(UNDERRUN_WAIT_S)
            if self._frames:
                return self._frames.popleft()
            # Synthesis is behind (the next sentence is still coming): a silent frame keeps the timing.
            return b"" if self._finished else SILENCE

    def is_opus(self) -> bool:
        return False


@dataclass
class SayJob:
    """One /say request waiting for its turn in a guild."""

    stream: SpeechStream
    channel: discord.VoiceChannel | discord.StageChannel
    report: Callable[[str], Awaitable[Any]]
    """Tells the member about a failure after the command was acknowledged."""
    queued_at: float = field(default_factory=time.perf_counter)


class GuildPlayer:
    """Plays one guild's requests in order; a second guild has its own player and never waits for this one."""

    def __init__(self, guild: discord.Guild, idle_disconnect_s: float) -> None:
        self.guild = guild
        self.idle_disconnect_s = idle_disconnect_s
        self.queue: asyncio.Queue[SayJob] = asyncio.Queue()
        self._current: asyncio.Task[None] | None = None
        self._worker = asyncio.create_task(self._run(), name=f"discord-guild-{guild.id}")

    def add(self, job: SayJob) -> int:
        """Queue `job`; its position (0 = plays next)."""
        ahead = self.queue.qsize() + (1 if self.busy else 0)
        self.queue.put_nowait(job)
        return ahead

    @property
    def busy(self) -> bool:
        return self._current is not None and not self._current.done()

    async def stop(self) -> int:
        """Stop speaking and drop the queue; how many requests were dropped (the one playing included)."""
        dropped = 0
        while not self.queue.empty():
            job = self.queue.get_nowait()
            await job.stream.aclose()
            dropped += 1
        if self.busy:
            assert self._current is not None
            self._current.cancel()
            dropped += 1
        voice = self.guild.voice_client
        if isinstance(voice, discord.VoiceClient):
            voice.stop()
        return dropped

    async def close(self) -> None:
        await self.stop()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker

    async def leave(self) -> bool:
        """Stop and disconnect; False when not connected."""
        await self.stop()
        voice = self.guild.voice_client
        if voice is None:
            return False
        await voice.disconnect(force=True)
        return True

    async def _run(self) -> None:
        while True:
            try:
                job = await asyncio.wait_for(self.queue.get(), timeout=self.idle_disconnect_s)
            except TimeoutError:
                if self.guild.voice_client is not None:
                    log.info(
                        "discord: idle for %.0f s in %s; leaving voice", self.idle_disconnect_s, self.guild
                    )
                    await self.guild.voice_client.disconnect(force=True)
                continue
            self._current = asyncio.create_task(self._play(job))
            try:
                await self._current
            except asyncio.CancelledError:
                if self._worker.cancelling():
                    raise
            except VoxhubError as exc:
                await _quietly(job.report(f"❌ {exc.message}"))
            except CannotJoin as exc:
                await _quietly(job.report(f"❌ {exc}"))
            except Exception as exc:
                log.exception("discord: playback failed in %s", self.guild)
                await _quietly(job.report(f"❌ Playback failed ({type(exc).__name__}); see the voxhub log."))
            finally:
                self._current = None

    async def _play(self, job: SayJob) -> None:
        try:
            voice = await self._join(job.channel)
            source = StreamSource()
            finished = asyncio.Event()
            loop = asyncio.get_running_loop()
            resampler = Resampler()
            started = False
            try:
                async for chunk in job.stream:
                    source.push(resampler.feed(chunk))
                    if not started:  # the first sentence plays while the rest is synthesized
                        voice.play(source, after=lambda _error: loop.call_soon_threadsafe(finished.set))
                        started = True
                source.push(resampler.flush())
                source.finish()
                if started:
                    await finished.wait()
            finally:
                if voice.source is source:
                    voice.stop()
        finally:
            await job.stream.aclose()

    async def _join(self, channel: discord.VoiceChannel | discord.StageChannel) -> discord.VoiceClient:
        """The guild's voice connection, in `channel`: connect, or move there."""
        voice = self.guild.voice_client
        here = voice is not None and getattr(voice.channel, "id", None) == channel.id
        if isinstance(voice, discord.VoiceClient) and here:
            # After a voice drop discord.py reconnects by itself, but in 2.7 its UDP reader thread can sit up to
            # 30 s in select() on the closed old socket, so IP discovery stalls: wait a moment, then start over.
            deadline = time.monotonic() + RECONNECT_WAIT_S
            while not voice.is_connected() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if voice.is_connected():
                return voice
        if voice is not None:
            # Another channel, or a dropped connection that did not come back: leave and join afresh (a new
            # VoiceClient, with a new reader thread). VoiceClient.move_to stalls the same way as a reconnect.
            await voice.disconnect(force=True)
        try:
            return await channel.connect(timeout=CONNECT_TIMEOUT_S, reconnect=True, self_deaf=True)
        except (TimeoutError, discord.ClientException) as exc:
            reason = str(exc) or f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
            raise CannotJoin(f"Could not join {channel.mention} ({reason}); try again in a moment.") from None


async def _quietly(work: Awaitable[Any]) -> None:
    try:
        await work
    except Exception:  # the member may have gone, the token expired: nothing more to tell
        log.debug("discord: could not report a playback error", exc_info=True)
