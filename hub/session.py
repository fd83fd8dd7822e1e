"""Incremental speech: text that arrives in pieces (an LLM's deltas), spoken sentence by sentence.

    session = await hub.open_session(SpeechRequest("", voice="mum", priority=Priority.INTERACTIVE))
    await session.feed("The weather today ")      # nothing complete yet
    await session.feed("is sunny. Tomorrow")      # "The weather today is sunny." starts synthesizing now
    await session.finish()                        # "Tomorrow" too
    async for part in session:                    # one part per submitted piece of text, in order
        async for chunk in part: ...

Each piece is submitted the moment it is complete and numbered after the stream's earlier sentences, so the
scheduler serves every other client's first sentence before this stream's later ones. All audio comes out in
the first chunk's PCM format, so a client can write one WAV header for the whole stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Protocol

import numpy as np

from engines.core.interface import AudioChunk
from hub import audio as audioproc
from hub import text as textproc
from hub.errors import EmptyText, InvalidRequest
from hub.speech import SpeechRequest, SpeechStream


class Synthesizes(Protocol):
    """What a session submits its sentences to (the Hub)."""

    async def synthesize(self, request: SpeechRequest) -> SpeechStream: ...


_END = object()


def conform_chunk(chunk: AudioChunk, rate: int, width: int, channels: int) -> AudioChunk:
    """The same audio as 16-bit PCM at `rate` Hz with `channels` channels (a no-op when it already is)."""
    if (chunk.rate, chunk.width, chunk.channels) == (rate, width, channels):
        return chunk
    if chunk.width != 2 or width != 2:
        raise InvalidRequest(
            f"cannot convert {chunk.width * 8}-bit audio to {width * 8}-bit: only 16-bit PCM"
        )
    samples = audioproc.pcm16_to_float(chunk.audio).reshape(-1, chunk.channels).mean(axis=1)
    samples = audioproc.resample(samples, chunk.rate, rate)
    if channels > 1:
        samples = np.repeat(samples, channels)  # interleaved copies of the mono signal
    return AudioChunk(rate, width, channels, audioproc.float_to_pcm16(samples))


class SpeechPart:
    """The audio of one submitted piece of text (one or more sentences), filled in the background."""

    def __init__(self, sentences: list[str], first_index: int) -> None:
        self.sentences = sentences
        self.first_index = first_index
        """Position of its first sentence in the whole stream."""
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def _start(self, chunks: AsyncIterator[AudioChunk]) -> None:
        # Iterating at once is what submits the sentences to the scheduler: don't wait for the reader.
        self._task = asyncio.create_task(self._pump(chunks), name="voxhub speech part")

    async def _pump(self, chunks: AsyncIterator[AudioChunk]) -> None:
        try:
            async for chunk in chunks:
                self._queue.put_nowait(chunk)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._queue.put_nowait(exc)
        self._queue.put_nowait(_END)

    async def __aiter__(self) -> AsyncIterator[AudioChunk]:
        while (item := await self._queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, AudioChunk)
            yield item

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._queue.put_nowait(_END)  # a reader waiting on this part gets what there was


class SpeechSession:
    """One client's stream of text: `feed` it as it arrives, `finish` it, iterate its parts in order."""

    def __init__(self, hub: Synthesizes, template: SpeechRequest) -> None:
        self._hub = hub
        self._template = template
        self._pending = textproc.PrefixScanner()
        self._next_index = template.first_index
        self._parts: asyncio.Queue[SpeechPart | None] = asyncio.Queue()
        self._started: list[SpeechPart] = []
        self._finished = False
        self.format: tuple[int, int, int] | None = None
        """(rate, width, channels) of the first chunk; every later chunk is converted to it."""

    @property
    def pending_chars(self) -> int:
        """Characters fed that are not yet part of a submitted sentence."""
        return len(self._pending.text)

    @property
    def sentences(self) -> int:
        """How many sentences were submitted so far."""
        return self._next_index - self._template.first_index

    async def feed(self, text: str) -> None:
        """Add text; every sentence it completes is submitted at once. Bad input raises (a VoxhubError)."""
        if self._finished:
            raise InvalidRequest("this text stream has already finished: start a new one")
        self._pending.add(text)  # scans only the new text: a long stream stays linear
        done = self._pending.take()
        if done:
            await self._submit(done)

    async def finish(self) -> None:
        """No more text: submit what is left and end the stream once its audio is out."""
        if self._finished:
            return
        rest, self._pending = self._pending.text, textproc.PrefixScanner()
        try:
            await self._submit(rest)
        finally:
            self._finished = True
            self._parts.put_nowait(None)

    async def _submit(self, text: str) -> None:
        request = dataclasses.replace(self._template, text=text, first_index=self._next_index)
        try:
            stream = await self._hub.synthesize(request)
        except EmptyText:
            return  # whitespace, markdown or emoji between sentences: nothing to say
        part = SpeechPart(stream.sentences, self._next_index)
        self._next_index += len(stream.sentences)
        part._start(aiter(stream))
        self._started.append(part)
        self._parts.put_nowait(part)

    async def __aiter__(self) -> AsyncIterator[SpeechPart]:
        while (part := await self._parts.get()) is not None:
            yield part

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """All audio in order, in one PCM format."""
        async for part in self:
            async for chunk in part:
                yield self.conform(chunk)

    def conform(self, chunk: AudioChunk) -> AudioChunk:
        """`chunk` in the stream's format (set by the first chunk)."""
        if self.format is None:
            self.format = (chunk.rate, chunk.width, chunk.channels)
        return conform_chunk(chunk, *self.format)

    async def aclose(self) -> None:
        """Stop: queued sentences are dropped, running ones cancelled, and iteration ends."""
        if not self._finished:
            self._finished = True
            self._parts.put_nowait(None)
        for part in self._started:
            await part.cancel()
