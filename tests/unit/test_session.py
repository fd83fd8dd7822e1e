"""Incremental text (LLM deltas): where sentences are complete, and how a SpeechSession submits them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
import pytest

from engines.core.interface import AudioChunk
from hub.api import SpeechRequest
from hub.errors import EmptyText
from hub.session import SpeechSession, conform_chunk
from hub.text import PrefixScanner, complete_prefix, split_sentences


def _complete(text: str) -> str:
    return text[: complete_prefix(text)]


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("The weather today is sunny.", ""),  # the next word may continue the sentence
        ("The weather today is sunny. ", ""),
        ("It is sunny. Tomorrow", "It is sunny."),
        ("It is sunny! Is it? Yes", "It is sunny! Is it?"),
        ("Wait... what", ""),  # lower case goes on: one sentence
        ("I met Dr. Smith", ""),
        ("We use tools, e.g. hammers. And", "We use tools, e.g. hammers."),
        ("1. First", ""),  # a markdown list number
        ("# Heading\nMore", "# Heading\n"),
        ("It costs 3.5 dollars. Ok", "It costs 3.5 dollars."),
    ],
)
def test_complete_prefix_cuts_only_finished_sentences(text: str, complete: str) -> None:
    assert _complete(text) == complete


def test_a_long_tail_without_an_end_is_cut_at_a_clause_break() -> None:
    text = "word " * 50 + "and then, " + "more " * 60
    cut = complete_prefix(text, max_chars=300)
    assert text[:cut].endswith("and then,")
    assert complete_prefix("word " * 50) == 0  # short enough to wait for its end


def test_fed_word_by_word_the_sentences_match_the_whole_texts() -> None:
    text = "Dr. Smith arrived at 7:30 pm. The U.S. team won, e.g. gold! Did they? Yes.\nNext line here"
    buffer, pieces = "", []
    for word in text.split(" "):
        buffer += word + " "
        cut = complete_prefix(buffer)
        if cut:
            pieces.append(buffer[:cut])
            buffer = buffer[cut:]
    pieces.append(buffer)
    # boundaries only (the early cut applies to a stream's very first sentence, see Hub.synthesize)
    assert [s for p in pieces for s in split_sentences(p, first_chars=None)] == split_sentences(
        text, first_chars=None
    )


@dataclass
class _Stream:
    sentences: list[str]
    chunks: list[AudioChunk]

    async def _gen(self):  # type: ignore[no-untyped-def]
        for chunk in self.chunks:
            await asyncio.sleep(0)
            yield chunk

    def __aiter__(self):  # type: ignore[no-untyped-def]
        return self._gen()


class _Hub:
    """Records what a session submits; sentence N's audio is N samples at 16 kHz (the 2nd at 8 kHz)."""

    def __init__(self) -> None:
        self.requests: list[SpeechRequest] = []

    async def synthesize(self, request: SpeechRequest) -> _Stream:
        if not any(c.isalnum() for c in request.text):
            raise EmptyText("empty")
        self.requests.append(request)
        sentences = split_sentences(request.text)
        rate = 8000 if len(self.requests) == 2 else 16000
        chunks = [AudioChunk(rate, 2, 1, np.full(100, 1000, "<i2").tobytes()) for _ in sentences]
        return _Stream(sentences, chunks)


async def test_session_submits_each_sentence_once_complete_with_running_positions() -> None:
    hub = _Hub()
    session = SpeechSession(hub, SpeechRequest("", voice="v", first_index=0))  # type: ignore[arg-type]
    for delta in ["Hello ", "there. How ", "are you? ", "Fine. ", "**", " Bye"]:
        await session.feed(delta)
    assert [r.text for r in hub.requests] == ["Hello there.", " How are you?", " Fine."]
    await session.finish()
    assert [(r.text.strip(), r.first_index, r.voice) for r in hub.requests] == [
        ("Hello there.", 0, "v"), ("How are you?", 1, "v"), ("Fine.", 2, "v"), ("** Bye", 3, "v"),
    ]  # fmt: skip
    chunks = [chunk async for chunk in session.chunks()]
    # one format for the whole stream: the 8 kHz sentence comes out resampled to 16 kHz
    assert {(c.rate, c.width, c.channels) for c in chunks} == {(16000, 2, 1)}
    assert len(chunks) == 4 and 190 <= chunks[1].samples <= 210
    with pytest.raises(Exception, match="already finished"):
        await session.feed("more")


async def test_closing_a_session_ends_iteration() -> None:
    session = SpeechSession(_Hub(), SpeechRequest(""))  # type: ignore[arg-type]
    await session.feed("One. Two")
    await session.aclose()
    parts = [part async for part in session]
    assert len(parts) == 1


def test_conform_chunk_converts_rate_and_channels() -> None:
    tone = (np.sin(np.arange(2205) / 5) * 10000).astype("<i2")
    stereo = AudioChunk(22050, 2, 2, np.repeat(tone, 2).tobytes())
    out = conform_chunk(stereo, 16000, 2, 1)
    assert (out.rate, out.channels) == (16000, 1) and abs(out.seconds - 0.1) < 0.005
    assert conform_chunk(out, 16000, 2, 1) is out


def _feed_seconds(text: str, step: int) -> float:
    scanner = PrefixScanner()
    started = time.perf_counter()
    for i in range(0, len(text), step):
        scanner.add(text[i : i + step])
        scanner.take()
    return time.perf_counter() - started


def test_a_long_stream_is_scanned_in_linear_time() -> None:
    # Text that never completes (no space, no full stop) used to be rescanned whole on every piece:
    # ten times the text cost a hundred times the time. Linear: about ten (best of three, against noise).
    for text in ("x" * 20_000, "Wait... what. " * 1500):
        small = min(_feed_seconds(text, 10) for _ in range(3))
        large = min(_feed_seconds(text * 10, 10) for _ in range(3))
        assert large < 30 * small, (large, small)


def test_the_scanner_fed_in_pieces_keeps_the_sentences_of_the_whole_text() -> None:
    text = (
        "Dr. Smith arrived at 7:30 pm. The U.S. team won, e.g. gold! Did they? Yes.\n1. First item. Then more"
    )
    for step in (1, 2, 3, 7, 50):
        scanner, pieces = PrefixScanner(), []
        for i in range(0, len(text), step):
            scanner.add(text[i : i + step])
            if done := scanner.take():
                pieces.append(done)
        pieces.append(scanner.text)
        assert "".join(pieces) == text
        # boundaries only (the early cut applies to a stream's very first sentence, see Hub.synthesize)
    assert [s for p in pieces for s in split_sentences(p, first_chars=None)] == split_sentences(
        text, first_chars=None
    ), step
