"""The typed, versioned protocol between the hub and its engine workers.

Framing is Wyoming's: one JSON header line `{"type", "data", "payload_length"}` + `\\n`, then the binary
payload. Every message is a dataclass below with a declared `TYPE`; audio, prompts and clips travel as raw
payload bytes, never as JSON. The hub's `Start` and the worker's `Ready` both carry PROTOCOL_VERSION, and
either side refuses a peer that speaks another version (a venv with an old voxhub checkout, say).

Hub → worker: Start, Synthesize (+ prompt), Prepare (+ float32 clip), Cancel, Shutdown.
Worker → hub: Ready, Audio (+ PCM), Done, Prepared (+ prompt), Error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar

from engines.core.errors import EngineUnavailable, RemoteError, VoxhubError
from engines.core.interface import Reference

PROTOCOL_VERSION = 2
MAX_HEADER = 1 << 20
PROMPT_MEMO = 8
"""Prompts each side remembers by key, least recently used dropped first. Both sides apply the same updates in
the same order (every Synthesize with a `prompt_key`), so the hub knows when it may leave the payload out."""


class PromptMemo:
    """The last PROMPT_MEMO prompts by key, used the same way by the hub (keys only) and the worker (bytes)."""

    def __init__(self) -> None:
        self.items: OrderedDict[str, bytes] = OrderedDict()

    def use(self, key: str, prompt: bytes = b"") -> bytes | None:
        """Record a use of `key` (with its bytes when sent); the remembered bytes, or None if unknown."""
        if prompt:
            self.items[key] = prompt
        elif key not in self.items:
            return None
        self.items.move_to_end(key)
        while len(self.items) > PROMPT_MEMO:
            self.items.popitem(last=False)
        return self.items[key]


class ProtocolError(Exception):
    """The peer sent something that is not a message of this protocol."""


@dataclass(frozen=True)
class Message:
    """Base of every message; `payload` is the raw binary part (empty for most)."""

    TYPE: ClassVar[str] = ""
    payload: bytes = field(default=b"", kw_only=True, repr=False)

    def encode(self) -> bytes:
        data = {
            f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "payload"
        }
        header = {"type": self.TYPE, "data": data, "payload_length": len(self.payload)}
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + self.payload

    @classmethod
    def build(cls, data: dict[str, Any], payload: bytes = b"") -> Message:
        """The message from its JSON fields; unknown fields are ignored, missing required ones fail."""
        names = {f.name for f in dataclasses.fields(cls)} - {"payload"}
        return cls(**{k: v for k, v in data.items() if k in names}, payload=payload)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


@dataclass(frozen=True)
class Start(Message):
    TYPE = "start"
    engine: str
    config: dict[str, Any] = field(default_factory=dict)
    protocol: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class Ready(Message):
    TYPE = "ready"
    info: dict[str, Any]
    pid: int = 0
    python: str = ""
    protocol: int = PROTOCOL_VERSION
    modules: list[str] = field(default_factory=list)
    """Top-level packages imported in the worker (shows that it runs without the hub)."""


@dataclass(frozen=True)
class Synthesize(Message):
    """One sentence to speak; the payload is the cloned voice's prepared prompt (empty for presets)."""

    TYPE = "synthesize"
    id: str
    text: str
    voice: str
    speed: float = 1.0
    speaker: str | None = None
    language: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    reference: Reference | None = None
    prompt_key: str = ""
    """Names the prompt; once a worker has it, the hub sends the key alone (prompts are megabytes)."""

    def __post_init__(self) -> None:
        if isinstance(self.reference, dict):
            object.__setattr__(self, "reference", Reference(**self.reference))


@dataclass(frozen=True)
class Prepare(Message):
    """Derive a cloned voice's prompt; the payload is the reference clip, mono float32 little-endian."""

    TYPE = "prepare"
    id: str
    reference: Reference

    def __post_init__(self) -> None:
        if isinstance(self.reference, dict):
            object.__setattr__(self, "reference", Reference(**self.reference))


@dataclass(frozen=True)
class Cancel(Message):
    TYPE = "cancel"
    id: str


@dataclass(frozen=True)
class Shutdown(Message):
    TYPE = "shutdown"


@dataclass(frozen=True)
class Audio(Message):
    """PCM audio; the payload holds `width`-byte little-endian samples of `channels` interleaved channels."""

    TYPE = "audio"
    id: str
    rate: int
    width: int = 2
    channels: int = 1


@dataclass(frozen=True)
class Done(Message):
    TYPE = "done"
    id: str
    cancelled: bool = False


@dataclass(frozen=True)
class Prepared(Message):
    TYPE = "prepared"
    id: str


@dataclass(frozen=True)
class Error(Message):
    """An error with everything the hub needs to report it as the engine meant it."""

    TYPE = "error"
    message: str
    id: str | None = None
    code: str = "engine_error"
    status: int = 422
    type: str = "invalid_request_error"
    param: str | None = None
    restart: bool = False
    """The worker must be restarted (at start-up: it could not start at all)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, exc: BaseException, job_id: str | None, *, restart: bool = False) -> Error:
        """The message for an exception raised by an engine."""
        if isinstance(exc, VoxhubError):
            return cls(exc.message, job_id, exc.code, exc.status, exc.type, exc.param,
                       restart or exc.restart, {k: v for k, v in exc.extra.items() if _jsonable(v)})  # fmt: skip
        return cls(str(exc) or type(exc).__name__, job_id, restart=restart)

    def to_exception(self) -> VoxhubError:
        """The error as the hub raises it (a 503 as EngineUnavailable, so clients are told to retry)."""
        if self.status == 503:
            unavailable = EngineUnavailable(
                self.message, restart=self.restart, param=self.param, **self.extra
            )
            unavailable.code, unavailable.type = self.code, self.type
            return unavailable
        return RemoteError(self.message, status=self.status, type=self.type, code=self.code,
                           restart=self.restart, param=self.param, **self.extra)  # fmt: skip


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


MESSAGES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (Start, Ready, Synthesize, Prepare, Cancel, Shutdown, Audio, Done, Prepared, Error)
}


def _parse(line: bytes) -> tuple[type[Message], dict[str, Any], int]:
    try:
        header = json.loads(line)
        kind = MESSAGES[str(header["type"])]
        return kind, dict(header.get("data") or {}), int(header.get("payload_length") or 0)
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"bad message header {line[:200]!r}: {exc!r}") from None


def _build(kind: type[Message], data: dict[str, Any], payload: bytes) -> Message:
    try:
        return kind.build(data, payload)
    except TypeError as exc:
        raise ProtocolError(f"bad {kind.TYPE} message: {exc}") from None


def read_message(stream: BinaryIO) -> Message | None:
    """Read one message from a blocking binary stream; None at end of stream."""
    line = stream.readline(MAX_HEADER)
    if not line:
        return None
    kind, data, length = _parse(line)
    payload = stream.read(length) if length else b""
    if len(payload) != length:
        return None
    return _build(kind, data, payload)


def write_message(stream: BinaryIO, message: Message) -> None:
    """Write one message to a blocking binary stream and flush it."""
    stream.write(message.encode())
    stream.flush()


async def async_read_message(reader: asyncio.StreamReader) -> Message | None:
    """Read one message from an asyncio stream; None at end of stream."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("message header too long") from exc
    kind, data, length = _parse(line)
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError:
        return None
    return _build(kind, data, payload)
