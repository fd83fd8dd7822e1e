"""One Wyoming connection: reads events, answers describe, speaks synthesize and synthesize-start/-chunk/-stop.

Home Assistant's call sequences (homeassistant/components/wyoming/tts.py):
- plain: `synthesize` -> audio-start, audio-chunk..., audio-stop (one start/stop around all sentences);
- streaming: synthesize-start, synthesize-chunk (LLM deltas)..., synthesize (the full text, for old
  servers: ignored here), synthesize-stop -> for each sentence as soon as it is synthesized audio-start,
  chunks, audio-stop; then synthesize-stopped, which Home Assistant reads until, so it is always sent.
Errors become `error` events (text + code) and the connection goes on. Reading events is events.py,
the `info` answer to describe is describe.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from adapters.wyoming import WyomingSettings
from adapters.wyoming.describe import info_event
from adapters.wyoming.events import MalformedEvent, error_event, linger, read_event
from hub.api import AudioChunk, Hub, Priority, SpeechRequest, SpeechSession, VoxhubError, conform_chunk

log = logging.getLogger("voxhub.wyoming")


def _text(event: Event) -> str:
    text = event.data.get("text")
    if not isinstance(text, str):
        raise MalformedEvent(
            f'{event.type} needs data.text, the text to speak (a string), e.g. {{"text": "Hi."}}'
        )
    return text


def _voice(event: Event) -> tuple[str | None, str | None]:
    """(voice name, speaker) of a synthesize or synthesize-start; None = the default voice."""
    voice = event.data.get("voice") or {}
    if not isinstance(voice, dict):
        raise MalformedEvent(f'{event.type}: data.voice must be an object like {{"name": "..."}}')
    name, speaker = voice.get("name"), voice.get("speaker")
    # Home Assistant never sends a language; a language alone falls back to the default voice too.
    if not isinstance(name, (str, type(None))) or not isinstance(speaker, (str, type(None))):
        raise MalformedEvent(f"{event.type}: data.voice.name and data.voice.speaker must be strings")
    return name or None, speaker or None


class StreamTooLong(VoxhubError):
    """A stream sent more text than adapters.wyoming.max_stream_chars (the hub's text limit is per request;
    this one bounds a whole synthesize-start ... synthesize-stop stream)."""

    code = "text_too_long"
    status = 413


class WyomingConnection:
    """The events of one client connection, handled in order."""

    def __init__(
        self, hub: Hub, settings: WyomingSettings, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.reader = reader
        self.writer = writer
        self._session: SpeechSession | None = None
        self._stream_failed = False
        self._streaming = False
        self._sender: asyncio.Task[None] | None = None
        self._stream_chars = 0

    async def run(self) -> None:
        """Handle events until the client disconnects."""
        limits = self.settings
        try:
            while True:
                try:
                    # Idle time counts only while waiting for the client (replies are awaited in handle_event).
                    event = await asyncio.wait_for(
                        read_event(self.reader, limits.max_frame_bytes), limits.idle_timeout_s
                    )
                except MalformedEvent as exc:
                    log.warning("Wyoming client sent a malformed event: %s", exc)
                    await self.write(error_event(exc))
                    if exc.fatal:
                        await linger(self.reader, self.writer)
                        break
                    continue
                except TimeoutError:
                    text = (f"closing the connection: nothing received for {limits.idle_timeout_s:g} s "
                            "(adapters.wyoming.idle_timeout_s)")  # fmt: skip
                    await self.write(Error(text=text, code="idle_timeout").event())
                    break
                if event is None:
                    break
                await self.handle_event(event)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-event
        finally:
            await self._end_stream()
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def write(self, event: Event) -> None:
        await async_write_event(event, self.writer)

    async def handle_event(self, event: Event) -> None:
        """One event; any error is sent back as an `error` event."""
        try:
            if Describe.is_type(event.type):
                await self.write(await self.info())
            elif Synthesize.is_type(event.type):
                if not self._streaming:  # inside a stream it repeats the chunks, for old servers
                    await self._synthesize(event)
            elif SynthesizeStart.is_type(event.type):
                await self._stream_start(event)
            elif SynthesizeChunk.is_type(event.type):
                await self._stream_chunk(event)
            elif SynthesizeStop.is_type(event.type):
                await self._stream_stop()
            elif Ping.is_type(event.type):
                await self.write(Pong(text=event.data.get("text")).event())
            elif event.type == "select-program":
                name = event.data.get("name")
                if name != self.settings.program:
                    raise MalformedEvent(
                        f"no program {name!r}: this server has one, {self.settings.program!r}"
                    )
            else:
                log.debug("ignoring Wyoming event %r", event.type)  # the protocol says: drop unknown events
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:
            if not isinstance(exc, (VoxhubError, MalformedEvent)):
                log.exception("Wyoming %s failed", event.type)
            await self.write(error_event(exc))

    async def info(self) -> Event:
        """The `info` event answering `describe`."""
        return await info_event(self.hub, self.settings.program)

    # --- plain synthesize -----------------------------------------------------------------------------

    async def _synthesize(self, event: Event) -> None:
        name, speaker = _voice(event)
        request = SpeechRequest(_text(event), voice=name, speaker=speaker, priority=Priority.INTERACTIVE)
        stream = await self.hub.synthesize(request)  # validated here: errors before any audio
        fmt: tuple[int, int, int] | None = None
        try:
            async for chunk in stream:
                if fmt is None:
                    fmt = (chunk.rate, chunk.width, chunk.channels)
                    await self.write(AudioStart(*fmt).event())
                await self._send_audio(conform_chunk(chunk, *fmt))
        except VoxhubError:
            if fmt is not None:
                await self.write(AudioStop().event())  # close what was started, then report
            raise
        finally:
            await stream.aclose()
        if fmt is not None:
            await self.write(AudioStop().event())

    async def _send_audio(self, chunk: AudioChunk) -> None:
        step = self.settings.samples_per_chunk * chunk.width * chunk.channels
        for start in range(0, len(chunk.audio), step):
            piece = chunk.audio[start : start + step]
            await self.write(WyomingChunk(chunk.rate, chunk.width, chunk.channels, piece).event())

    # --- streaming ------------------------------------------------------------------------------------

    async def _stream_start(self, event: Event) -> None:
        if self._streaming:
            raise MalformedEvent("synthesize-start inside a stream: send synthesize-stop first")
        self._streaming, self._stream_failed, self._stream_chars = True, False, 0
        name, speaker = _voice(event)
        try:
            self._session = await self.hub.open_session(
                SpeechRequest("", voice=name, speaker=speaker, priority=Priority.INTERACTIVE)
            )
        except BaseException:
            self._stream_failed = True  # chunks are ignored; synthesize-stop still gets synthesize-stopped
            raise
        self._sender = asyncio.create_task(self._send_stream(self._session), name="wyoming stream")

    async def _stream_chunk(self, event: Event) -> None:
        if not self._streaming:
            raise MalformedEvent("synthesize-chunk outside a stream: send synthesize-start first")
        text = _text(event)
        if self._stream_failed or self._session is None:
            return
        self._stream_chars += len(text)
        if self._stream_chars > self.settings.max_stream_chars:
            await self._fail_stream()
            raise StreamTooLong(
                f"the stream's text is over {self.settings.max_stream_chars} characters "
                "(adapters.wyoming.max_stream_chars): the rest of this stream is ignored; send shorter answers"
            )
        try:
            await self._session.feed(text)
        except BaseException:
            await self._fail_stream()
            raise

    async def _stream_stop(self) -> None:
        if not self._streaming:
            raise MalformedEvent("synthesize-stop outside a stream: send synthesize-start first")
        try:
            if self._session is not None and not self._stream_failed:
                try:
                    await self._session.finish()
                except BaseException:
                    await self._fail_stream()
                    raise
            if self._sender is not None:
                await self._sender
        finally:
            self._session, self._sender, self._streaming = None, None, False
            await self.write(SynthesizeStopped().event())

    async def _send_stream(self, session: SpeechSession) -> None:
        """Each part's audio as soon as it exists: audio-start, chunks, audio-stop, in one format."""
        try:
            async for part in session:
                started = False
                try:
                    async for chunk in _conformed(session, part):
                        if not started:
                            assert session.format is not None
                            await self.write(AudioStart(*session.format).event())
                            started = True
                        await self._send_audio(chunk)
                finally:
                    if started:
                        await self.write(AudioStop().event())
        except VoxhubError as exc:
            self._stream_failed = True
            await session.aclose()
            await self.write(error_event(exc))

    async def _fail_stream(self) -> None:
        self._stream_failed = True
        if self._session is not None:
            await self._session.aclose()  # the sender stops after the audio it already has

    async def _end_stream(self) -> None:
        """The client left: stop synthesizing for it."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(BaseException):
                await self._sender
        if self._session is not None:
            await self._session.aclose()
        self._session, self._sender, self._streaming = None, None, False


async def _conformed(session: SpeechSession, part: Any) -> AsyncIterator[AudioChunk]:
    async for chunk in part:
        yield session.conform(chunk)
