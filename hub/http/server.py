"""Routes of the HTTP API and the server's lifetime."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from engines.core.interface import AudioChunk
from hub import audio
from hub.api import OPENAI_MODELS, Consent, Hub, SpeechRequest
from hub.errors import (
    BadAudio,
    InvalidRequest,
    NotFound,
    UnsupportedFormat,
    VoxhubError,
    WrongContentType,
)
from hub.http import jobs, ui, uploads
from hub.http.auth import auth_middleware
from hub.http.errors import error_middleware, http_error
from hub.http.guard import browser_guard
from hub.http.openapi import docs_page, openapi_spec
from hub.scheduler import Priority

log = logging.getLogger("voxhub.http")

HUB_KEY = web.AppKey("hub", Hub)
OPEN_PATHS = frozenset({"/health", "/docs", "/openapi.json", "/"})
# Remembered clips are fetched by media players that cannot send API keys; their random ids are the key.
CLIPS_PATH = "/v1/audio/clips/"


def create_app(hub: Hub) -> web.Application:
    settings = hub.settings.http
    public_paths = {r.path for r in hub.http_routes if r.public}

    def unguarded(request: web.Request) -> bool:
        return (
            _is_open(request.path, public_paths)
            # The UI's files carry no data; the API calls they make are checked as any other.
            or (settings.ui and ui.is_open(request.path))
            # Home Assistant signed an admin in before its Supervisor proxied the request to the panel.
            or ui.trusted_ingress(request, settings)
        )

    app = web.Application(
        middlewares=[
            error_middleware,
            # Keys first: a request that proves a key cannot come from a rebinding or cross-site page (it
            # would need the key), so the browser guard only judges requests made without one.
            auth_middleware(settings, hub.keys, unguarded),
            browser_guard(settings, unguarded),
        ],
        client_max_size=int(settings.max_body_mb * (1 << 20)),
    )
    app[HUB_KEY] = hub
    app.router.add_post("/v1/audio/speech", speech)
    app.router.add_get(CLIPS_PATH + "{clip_id}", get_clip)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/v1/voices", list_voices)
    app.router.add_post("/v1/voices", add_voice)
    app.router.add_get("/v1/voices/{name}", get_voice)
    app.router.add_get("/v1/voices/{name}/reference", get_reference)
    app.router.add_delete("/v1/voices/{name}", delete_voice)
    app.router.add_post("/v1/quality", check_quality)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/docs", docs)
    if settings.ui:
        ui.mount(app)
    else:
        app.router.add_get("/", index)
    jobs.add_routes(app, HUB_KEY)
    for route in hub.http_routes:  # mounted by adapters (e.g. Slack's /slack/events)
        app.router.add_route(route.method, route.path, route.handler)
    return app


def _is_open(path: str, public_paths: set[str]) -> bool:
    """Paths served without a key and without the browser guard (see hub.http.guard)."""
    return path in OPEN_PATHS or path in public_paths or path.startswith(CLIPS_PATH)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise WrongContentType(
            f"Content-Type must be application/json, got {request.content_type or 'none'!r}: send a JSON body"
        )
    return await uploads.read_json_object(request)


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InvalidRequest(f"`{name}` must be a {expected}, got {type(value).__name__}", param=name)
    return value


async def speech(request: web.Request) -> web.StreamResponse:
    """POST /v1/audio/speech, as OpenAI's."""
    hub = request.app[HUB_KEY]
    body = await _json_body(request)
    text = _field(body, "input", str)
    if text is None:
        raise InvalidRequest("`input` is required: the text to speak", param="input")
    fmt = _field(body, "response_format", str, "mp3")
    if fmt not in audio.FORMATS:
        raise UnsupportedFormat(
            f"response_format {fmt!r} is not supported: use one of {', '.join(audio.FORMATS)}",
            param="response_format",
        )
    stream_format = _field(body, "stream_format", str, "audio")
    if stream_format not in ("audio", "sse"):
        raise InvalidRequest("stream_format must be `audio` or `sse`", param="stream_format")
    voice = body.get("voice")
    if isinstance(voice, dict):  # newer SDKs may send {"id": "..."}
        voice = voice.get("id")
    if voice is not None and not isinstance(voice, str):
        raise InvalidRequest("`voice` must be a voice name (string)", param="voice")
    req = SpeechRequest(
        text=text,
        voice=voice,
        speed=_speed(_field(body, "speed", (int, float), 1.0)),
        engine=_field(body, "model", str, None),
        speaker=_field(body, "speaker", str, None),
        priority=Priority.NORMAL,
        options=_engine_options(_field(body, "options", dict, {})),
        language=_field(body, "language", str, ""),
    )
    started = time.perf_counter()
    stream = await hub.synthesize(req)
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
        if stream_format == "sse":
            return await _send_sse(request, fmt, first, chunks, headers)
        return await _send_audio(request, fmt, first, chunks, headers)
    finally:
        await stream.aclose()


def _speed(value: float) -> float:
    try:
        return float(value)
    except OverflowError:  # a JSON integer beyond any float
        raise InvalidRequest("`speed` is out of range: use a value from 0.25 to 4.0", param="speed") from None


def _engine_options(options: dict[str, Any]) -> dict[str, Any]:
    """`options` (a voxhub extension): engine-specific settings such as ZipVoice's seed, steps, guidance."""
    for key, value in options.items():
        if not isinstance(value, (str, int, float, bool)):
            raise InvalidRequest(
                f"options.{key} must be a string, number or boolean, got {type(value).__name__}",
                param="options",
            )
    return options


def _cache_state(cached: int, total: int) -> str:
    return "hit" if cached == total else "miss" if cached == 0 else "partial"


async def _encoded(fmt: str, first: AudioChunk, chunks: AsyncIterator[AudioChunk]) -> AsyncIterator[bytes]:
    if fmt == "flac":
        # A streamed FLAC cannot carry its length (STREAMINFO comes first), and common readers such as
        # libsndfile then misreport it; FLAC is for keeping, so send one exact file instead.
        pcm = [first.audio] + [chunk.audio async for chunk in chunks]
        whole = AudioChunk(first.rate, first.width, first.channels, b"".join(pcm))
        yield await asyncio.to_thread(audio.encode, fmt, whole)
        return
    encoder = audio.open_encoder(fmt, first.rate, first.channels)
    # Compressed formats cost real CPU per sentence: keep them off the event loop.
    offload = fmt not in ("pcm", "wav")

    async def feed(pcm: bytes) -> bytes:
        return await asyncio.to_thread(encoder.feed, pcm) if offload else encoder.feed(pcm)

    yield await feed(first.audio)
    async for chunk in chunks:
        yield await feed(chunk.audio)
    yield await asyncio.to_thread(encoder.finish) if offload else encoder.finish()


async def _send_audio(
    request: web.Request,
    fmt: str,
    first: AudioChunk,
    chunks: AsyncIterator[AudioChunk],
    headers: dict[str, str],
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": audio.CONTENT_TYPES[fmt], **headers})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async for data in _encoded(fmt, first, chunks):
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
    request: web.Request,
    fmt: str,
    first: AudioChunk,
    chunks: AsyncIterator[AudioChunk],
    headers: dict[str, str],
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **headers}
    )
    await response.prepare(request)
    try:
        async for data in _encoded(fmt, first, chunks):
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
        await response.write(f"data: {json.dumps({'type': 'error', **error.to_openai()})}\n\n".encode())
    await response.write_eof()
    return response


async def get_clip(request: web.Request) -> web.Response:
    """GET /v1/audio/clips/{clip_id}: a recently rendered clip (e.g. an MQTT announcement's `url`)."""
    clip = request.app[HUB_KEY].get_clip(request.match_info["clip_id"])
    if clip is None:
        raise NotFound(
            "no such clip: clips are kept in memory for the most recent announcements only; "
            "synthesize the text again for a new URL",
            param="clip_id",
        )
    data, content_type = clip
    return web.Response(body=data, content_type=content_type)


async def models(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    created = int(hub.started_at)
    ids = [*OPENAI_MODELS, *hub.pools]
    data = [{"id": name, "object": "model", "created": created, "owned_by": "voxhub"} for name in ids]
    infos = {info.name: info for info in hub.engines()}
    for entry in data:  # an engine's request options, as its schema declares them (voxhub extension)
        if entry["id"] in infos:
            info = infos[entry["id"]]
            entry.update(options=[o.to_dict() for o in info.options], cloning=info.cloning,
                         description=info.description)  # fmt: skip
    return web.json_response({"object": "list", "data": data})


async def list_voices(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    voices = [voice.to_dict() for voice in await hub.list_voices()]
    return web.json_response({"object": "list", "data": voices, "default": hub.settings.voices.default})


async def get_voice(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    return web.json_response(await hub.voice_details(request.match_info["name"]))


async def get_reference(request: web.Request) -> web.Response:
    """GET /v1/voices/{name}/reference: a cloned voice's stored reference clip, as WAV."""
    hub = request.app[HUB_KEY]
    data, content_type = await hub.encode(await hub.reference_clip(request.match_info["name"]), "wav")
    return web.Response(body=data, content_type=content_type)


async def delete_voice(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    name = request.match_info["name"]
    await hub.delete_voice(name)
    return web.json_response({"deleted": True, "name": name})


async def add_voice(request: web.Request) -> web.Response:
    """POST /v1/voices: multipart (name, file, transcript, language, consent), or JSON with `audio_b64` or `url`."""
    hub = request.app[HUB_KEY]
    clip, fields = await uploads.read_clip(request, hub)
    name = uploads.text_field(fields, "name")
    if not name:
        raise InvalidRequest("`name` is required: the new voice's name", param="name")
    if not clip:
        raise BadAudio(
            "no audio: upload the reference clip as `file` (multipart), `audio_b64` or `url` (JSON)",
            param="file",
        )
    voice = await hub.enroll(
        name,
        clip,
        transcript=uploads.text_field(fields, "transcript"),
        language=uploads.text_field(fields, "language"),
        engine=uploads.text_field(fields, "engine") or None,
        replace=uploads.flag(fields.get("replace")),
        consent=Consent("http", request.remote or "") if uploads.flag(fields.get("consent")) else None,
    )
    return web.json_response(await hub.voice_details(voice.name), status=201)


async def check_quality(request: web.Request) -> web.Response:
    """POST /v1/quality: the quality report of a clip (multipart `file`, or JSON `audio_b64` / `url`)."""
    hub = request.app[HUB_KEY]
    clip, fields = await uploads.read_clip(request, hub)
    if not clip:
        raise BadAudio(
            "no audio: send the clip as `file` (multipart), `audio_b64` or `url` (JSON)", param="file"
        )
    report = await hub.check(
        clip,
        against=uploads.text_field(fields, "against") or None,
        text=uploads.text_field(fields, "text") or None,
    )
    return web.json_response(report.to_dict())


async def health(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    report = await hub.health()
    # 503 only when nothing can speak: a full disk degrades the hub but it still serves (probes must not
    # restart it for that).
    return web.json_response(report, status=200 if report["serving"] else 503)


async def metrics(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    await hub.health()  # refreshes the gauges
    return web.Response(body=hub.metrics.render(), content_type="text/plain", charset="utf-8")


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/docs")


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_spec(_engine_options_of(request.app[HUB_KEY])))


async def docs(request: web.Request) -> web.Response:
    return web.Response(text=docs_page(_engine_options_of(request.app[HUB_KEY])), content_type="text/html")


def _engine_options_of(hub: Hub) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    return tuple((info.name, info.options) for info in hub.engines())


async def run_server(hub: Hub, stop: asyncio.Event) -> None:
    """Serve until `stop` is set; logs (and prints) the address actually bound."""
    settings = hub.settings.http
    runner = web.AppRunner(create_app(hub), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SystemExit(
            f"cannot listen on {settings.host}:{settings.port}: {exc}; set http.port to a free port"
        ) from None
    server = site._server
    for sock in getattr(server, "sockets", None) or ():
        host, port = sock.getsockname()[:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        hub.http_url = hub.http_url or url
        print(f"voxhub listening on {url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


__all__ = ["create_app", "http_error", "run_server"]
