"""One Wyoming connection: reads events, answers describe, speaks synthesize and synthesize-start/-chunk/-stop.

Home Assistant's call sequences (homeassistant/components/wyoming/tts.py):
- plain: `synthesize` -> audio-start, audio-chunk..., audio-stop (one start/stop around all sentences);
- streaming: synthesize-start, synthesize-chunk (LLM deltas)..., synthesize (the full text, for old
  servers: ignored here), synthesize-stop -> for each sentence as soon as it is synthesized audio-start,
  chunks, audio-stop; then synthesize-stopped, which Home Assistant reads until, so it is always sent.
Errors become `error` events (text + code) and the connection goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from wyoming.audio import AudioChunk as WyomingChunk
from wyoming.audio import AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Attribution, Describe, Info, TtsProgram
from wyoming.ping import Ping, Pong
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from adapters.wyoming import WyomingSettings
from hub.api import (
    VERSION,
    AudioChunk,
    Hub,
    Priority,
    SpeechRequest,
    SpeechSession,
    VoiceInfo,
    VoxhubError,
    conform_chunk,
)

log = logging.getLogger("voxhub.wyoming")

STREAM_LIMIT = 1 << 20
"""Longest header line accepted (asyncio's default of 64 KiB is short for a long text sent inline)."""
VOXHUB_URL = "https://github.com/voxhub/voxhub"
DEFAULT_MAX_FRAME = 4 << 20
LINGER_S, LINGER_BYTES = 1.0, 8 << 20


class MalformedEvent(Exception):
    """An event the protocol cannot make sense of; answered with an `error` event."""

    fatal = False
    """True: the stream cannot be trusted to go on (the connection is closed after the error event)."""
    code = "malformed_event"


class FrameTooLarge(MalformedEvent):
    """A header line or a claimed data/payload length over the limits: refused before it is read."""

    fatal = True
    code = "frame_too_large"


async def read_event(reader: asyncio.StreamReader, max_frame_bytes: int = DEFAULT_MAX_FRAME) -> Event | None:
    """The next event, None at end of stream; MalformedEvent for bad framing (the stream stays usable
    unless the error is `fatal`: a frame over the limits is never read into memory)."""
    try:
        line = await reader.readline()
    except ValueError:  # over STREAM_LIMIT: asyncio has dropped what it buffered
        raise FrameTooLarge(f"event header longer than {STREAM_LIMIT} bytes") from None
    if not line:
        return None
    try:
        header = json.loads(line)
    except ValueError:
        raise MalformedEvent("event header is not JSON: send one JSON object per line") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise MalformedEvent('event header needs a string "type", e.g. {"type": "describe"}')
    data = header.get("data") or {}
    data_length, payload_length = header.get("data_length") or 0, header.get("payload_length") or 0
    if not isinstance(data_length, int) or not isinstance(payload_length, int):
        raise MalformedEvent("data_length and payload_length must be integers")
    if data_length < 0 or payload_length < 0:
        raise FrameTooLarge("data_length and payload_length must not be negative")
    if data_length + payload_length > max_frame_bytes:
        raise FrameTooLarge(
            f"{header['type']!r} claims {data_length + payload_length} bytes of data and payload, over the "
            f"{max_frame_bytes}-byte limit (adapters.wyoming.max_frame_bytes)"
        )
    if data_length > 0:
        extra = await reader.readexactly(data_length)
        try:
            more = json.loads(extra)
        except ValueError:
            raise MalformedEvent(f"the data of {header['type']!r} is not JSON") from None
        data = {**data, **more} if isinstance(data, dict) and isinstance(more, dict) else None
    payload = await reader.readexactly(payload_length) if payload_length > 0 else None
    if not isinstance(data, dict):
        raise MalformedEvent(f"the data of {header['type']!r} must be a JSON object")
    return Event(type=header["type"], data=data, payload=payload)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Before closing on a bad frame: say we are done and discard (never keep) what is still arriving for a
    moment, so the close is not a reset that destroys the error event on its way to the client."""
    with contextlib.suppress(Exception):
        if writer.can_write_eof():
            writer.write_eof()
        deadline = asyncio.get_running_loop().time() + LINGER_S
        discarded = 0
        while discarded < LINGER_BYTES and (left := deadline - asyncio.get_running_loop().time()) > 0:
            data = await asyncio.wait_for(reader.read(1 << 16), left)
            if not data:
                break
            discarded += len(data)


async def refuse(writer: asyncio.StreamWriter, reason: str) -> None:
    """Answer a connection over the limits with one `error` event, then close it."""
    with contextlib.suppress(Exception):
        event = Error(text=f"too many connections: {reason}; close idle ones or retry later",
                      code="too_many_connections").event()  # fmt: skip
        await asyncio.wait_for(async_write_event(event, writer), 5)
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 5)


def _error(exc: BaseException) -> Event:
    if isinstance(exc, VoxhubError):
        return Error(text=exc.message, code=exc.code).event()
    if isinstance(exc, MalformedEvent):
        return Error(text=f"malformed event: {exc}", code=exc.code).event()
    return Error(text=f"internal error: {exc}; see the daemon's log", code="internal_error").event()


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


class TextTooLong(VoxhubError):
    """A stream sent more text than adapters.wyoming.max_stream_chars."""

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
                    await self.write(_error(exc))
                    if exc.fatal:
                        await _linger(self.reader, self.writer)
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
            await self.write(_error(exc))

    async def info(self) -> Event:
        """`info`: one TTS program with every voice of every engine (Home Assistant uses only the first)."""

        voices = await self.hub.list_voices()
        presets = sorted({lang for v in voices if v.kind == "preset" for lang in v.languages})
        program = TtsProgram(
            name=self.settings.program,
            attribution=Attribution(name="voxhub", url=VOXHUB_URL),
            installed=True,
            description="voxhub: preset and cloned voices from every engine",
            version=VERSION,
            voices=[],
            supports_synthesize_streaming=True,
        )
        event = Info(tts=[program]).event()
        # The voices are added as plain dicts: wyoming's to_dict deep-copies every field, which was most
        # of a describe at 1000 voices. `voice_dict` gives exactly TtsVoice(...).to_dict() (a test checks).
        event.data["tts"][0]["voices"] = [voice_dict(voice, presets) for voice in voices]
        return event

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
            raise TextTooLong(
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
            await self.write(_error(exc))

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


def _base(language: str) -> str:
    return language.replace("-", "_").split("_")[0].lower()


def voice_dict(voice: VoiceInfo, presets: list[str]) -> dict[str, Any]:
    """One voice of the `info` event, as TtsVoice(...).to_dict() renders it, without its deep copies."""
    return {
        "name": voice.name,
        "attribution": {"name": voice.attribution or voice.engine, "url": ""},
        "installed": True,
        "description": voice.description or f"{voice.name} ({voice.kind}, {voice.engine})",
        "version": None,
        "languages": _languages(voice.languages, presets),
        "speakers": [{"name": s} for s in voice.speakers] or None,
    }


def _languages(own: tuple[str, ...], presets: list[str]) -> list[str]:
    """A voice's languages as Home Assistant needs them: it lists voices under exact language codes."""
    if not own:  # a cloned voice of unknown language: offer it wherever the presets are
        return presets or ["en_US"]
    # "en" from a clip's transcription also goes under the presets' "en_US", so it sits beside them
    extra = [p for p in presets if p not in own and any(_base(p) == _base(o) for o in own)]
    return [*own, *extra]


async def _conformed(session: SpeechSession, part: Any) -> AsyncIterator[AudioChunk]:
    async for chunk in part:
        yield session.conform(chunk)
