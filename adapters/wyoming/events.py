"""Wyoming framing: one event read within the limits, malformed-event errors, and how a connection ends
(an `error` event for a refused connection, lingering after a bad frame so the error event arrives)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from wyoming.error import Error
from wyoming.event import Event, async_write_event

from hub.api import VoxhubError

STREAM_LIMIT = 1 << 20
"""Longest header line accepted (asyncio's default of 64 KiB is short for a long text sent inline)."""
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


async def linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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


def error_event(exc: BaseException) -> Event:
    if isinstance(exc, VoxhubError):
        return Error(text=exc.message, code=exc.code).event()
    if isinstance(exc, MalformedEvent):
        return Error(text=f"malformed event: {exc}", code=exc.code).event()
    return Error(text=f"internal error: {exc}; see the daemon's log", code="internal_error").event()
