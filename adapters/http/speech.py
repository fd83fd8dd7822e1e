"""POST /v1/audio/speech, as OpenAI's: the request's fields to a SpeechRequest, and the audio streamed back
as one file (chunked) or as server-sent events. OpenAI's model names live here, not in the hub."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from adapters.http.context import HUB_KEY
from adapters.http.errors import openai_error
from adapters.http.uploads import json_body
from hub.api import (
    AudioChunk,
    InvalidRequest,
    Priority,
    SpeechRequest,
    VoxhubError,
    check_engine,
    check_format,
    check_speed,
)

log = logging.getLogger("voxhub.http")

OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""OpenAI's model names: each speaks with the voice's own engine."""


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """`body[name]` if it has the JSON type `kind` (absent or null: `default`), else InvalidRequest."""
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidRequest(f"`{name}` must be a {expected}, got {type(value).__name__}", param=name)
    return value


def speech_request(body: dict[str, Any], engines: list[str]) -> SpeechRequest:
    """The hub's request for an OpenAI speech body; bad fields raise naming the field."""
    text = field(body, "input", str)
    if text is None:
        raise InvalidRequest("`input` is required: the text to speak", param="input")
    voice = body.get("voice")
    if isinstance(voice, dict):  # newer SDKs may send {"id": "..."}
        voice = voice.get("id")
    if voice is not None and not isinstance(voice, str):
        raise InvalidRequest("`voice` must be a voice name (string)", param="voice")
    model = field(body, "model", str, None)
    engine = None
    if model is not None and model not in OPENAI_MODELS:
        engine = check_engine(model, engines, param="model", also=OPENAI_MODELS)
    speed = body.get("speed")
    return SpeechRequest(
        text=text,
        voice=voice,
        speed=1.0 if speed is None else check_speed(speed),
        engine=engine,
        speaker=field(body, "speaker", str, None),
        priority=Priority.NORMAL,
        options=_engine_options(field(body, "options", dict, {})),
        language=field(body, "language", str, ""),
    )


def _engine_options(options: dict[str, Any]) -> dict[str, Any]:
    """`options` (a voxhub extension): engine-specific settings such as ZipVoice's seed, steps, guidance."""
    for key, value in options.items():
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidRequest(
                f"options.{key} must be a string, number or boolean, got {type(value).__name__}",
                param="options",
            )
    return options


async def speech(request: web.Request) -> web.StreamResponse:
    """POST /v1/audio/speech."""
    hub = request.app[HUB_KEY]
    body = await json_body(request)
    fmt = check_format(field(body, "response_format", str, "mp3"), param="response_format")
    stream_format = field(body, "stream_format", str, "audio")
    if stream_format not in ("audio", "sse"):
        raise InvalidRequest("stream_format must be `audio` or `sse`", param="stream_format")
    started = time.perf_counter()
    stream = await hub.synthesize(speech_request(body, hub.engine_names()))
    chunks = aiter(stream)
    try:
        # Wait for the first audio before answering, so a failure there still gets its own status code.
        first = await anext(chunks)
        headers = {
            "X-Voxhub-Voice": stream.voice.name,
            "X-Voxhub-Engine": stream.engine,
            "X-Voxhub-Cache": _cache_state(stream.cached_sentences, len(stream.sentences)),
            "X-Voxhub-First-Audio-Ms": f"{(time.perf_counter() - started) * 1000:.1f}",
            # `pcm` has no header: players (the web UI's) need the rate to play it.
            "X-Voxhub-Sample-Rate": str(first.rate),
        }
        encoded = hub.encode_stream(fmt, _prepend(first, chunks))
        if stream_format == "sse":
            return await _send_sse(request, encoded, headers)
        headers["Content-Type"] = hub.content_type(fmt)
        return await _send_audio(request, encoded, headers)
    finally:
        await stream.aclose()


async def _prepend(first: AudioChunk, rest: AsyncIterator[AudioChunk]) -> AsyncIterator[AudioChunk]:
    yield first
    async for chunk in rest:
        yield chunk


def _cache_state(cached: int, total: int) -> str:
    return "hit" if cached == total else "miss" if cached == 0 else "partial"


async def _send_audio(
    request: web.Request, encoded: AsyncIterator[bytes], headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async for data in encoded:
            if data:
                await response.write(data)
    except ConnectionError:
        raise  # the listener hung up: nothing more to send
    except Exception as exc:
        # The status line went out with the first audio: a second response would corrupt the body, so the
        # audio ends here (truncated) and the chunked stream is closed properly.
        _log_cut(request, exc)
    await response.write_eof()
    return response


def _log_cut(request: web.Request, exc: Exception) -> None:
    message = exc.message if isinstance(exc, VoxhubError) else repr(exc)
    log.warning("%s %s: stream cut after its first audio: %s", request.method, request.path, message)


async def _send_sse(
    request: web.Request, encoded: AsyncIterator[bytes], headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **headers}
    )
    await response.prepare(request)
    try:
        async for data in encoded:
            if data:
                event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
        done = {
            "type": "speech.audio.done",
            "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
        }
        await response.write(f"data: {json.dumps(done)}\n\n".encode())
    except ConnectionError:
        raise
    except Exception as exc:
        _log_cut(request, exc)
        error = exc if isinstance(exc, VoxhubError) else VoxhubError("the stream failed; retry the request")
        await response.write(f"data: {json.dumps({'type': 'error', **openai_error(error)})}\n\n".encode())
    await response.write_eof()
    return response
