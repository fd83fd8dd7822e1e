"""The API's routes besides speech: models, voices (list, details, reference clip, enroll, remove), quality
checks, remembered clips, health, metrics and the API's own description."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.http import uploads
from adapters.http.context import HUB_KEY
from adapters.http.openapi import docs_page, openapi_spec
from adapters.http.speech import OPENAI_MODELS
from hub.api import BadAudio, Consent, Hub, InvalidRequest, NotFound

CLIPS_PATH = "/v1/audio/clips/"
"""Remembered clips are fetched by media players that cannot send API keys; their random ids are the key."""


def add_routes(app: web.Application) -> None:
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
    ids = [*OPENAI_MODELS, *hub.engine_names()]
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
    return web.json_response({"object": "list", "data": voices, "default": hub.default_voice})


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
    report = await request.app[HUB_KEY].health()
    # 503 only when nothing can speak: a full disk degrades the hub but it still serves (probes must not
    # restart it for that).
    return web.json_response(report, status=200 if report["serving"] else 503)


async def metrics(request: web.Request) -> web.Response:
    text = await request.app[HUB_KEY].metrics_text()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_spec(_engine_options_of(request.app[HUB_KEY])))


async def docs(request: web.Request) -> web.Response:
    return web.Response(text=docs_page(_engine_options_of(request.app[HUB_KEY])), content_type="text/html")


def _engine_options_of(hub: Hub) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    return tuple((info.name, info.options) for info in hub.engines())
