"""Framed events between the hub and its engine workers.

The framing is Wyoming's: one JSON header line `{"type", "data", "payload_length"}` + `\\n`, then the
binary payload. Small typed JSON headers with raw PCM payloads keep audio out of JSON and make a stream
easy to read in a hex dump.

Hub → worker: `start {engine, config}`, `synthesize {id, request}` (+ prompt payload),
`prepare {id, reference}` (+ float32 clip payload), `cancel {id}`, `shutdown`.
Worker → hub: `ready {info}`, `audio {id, rate, width, channels}` (+ PCM payload), `done {id}`,
`prepared {id}` (+ prompt payload), `error {id?, code, message, fatal}`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO

MAX_HEADER = 1 << 20


@dataclass(frozen=True)
class Event:
    """One framed message."""

    type: str
    """Event name, e.g. `audio`."""
    data: dict[str, Any] = field(default_factory=dict)
    """JSON-serializable fields."""
    payload: bytes = b""
    """Binary payload (PCM, prompts, clips)."""

    def encode(self) -> bytes:
        header = {"type": self.type, "data": self.data, "payload_length": len(self.payload)}
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + self.payload


class ProtocolError(Exception):
    """The peer sent something that is not a framed event."""


def _parse_header(line: bytes) -> tuple[str, dict[str, Any], int]:
    try:
        header = json.loads(line)
        return str(header["type"]), dict(header.get("data") or {}), int(header.get("payload_length") or 0)
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"bad event header {line[:200]!r}: {exc}") from None


def read_event(stream: BinaryIO) -> Event | None:
    """Read one event from a blocking binary stream; None at end of stream."""
    line = stream.readline(MAX_HEADER)
    if not line:
        return None
    kind, data, length = _parse_header(line)
    payload = stream.read(length) if length else b""
    if len(payload) != length:
        return None
    return Event(kind, data, payload)


def write_event(stream: BinaryIO, event: Event) -> None:
    """Write one event to a blocking binary stream and flush it."""
    stream.write(event.encode())
    stream.flush()


async def async_read_event(reader: asyncio.StreamReader) -> Event | None:
    """Read one event from an asyncio stream; None at end of stream."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("event header too long") from exc
    kind, data, length = _parse_header(line)
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError:
        return None
    return Event(kind, data, payload)
