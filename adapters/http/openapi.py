"""The OpenAPI description of the HTTP API, and a small docs page rendered from it (no CDN needed)."""

from __future__ import annotations

import html
from functools import cache
from typing import Any

from hub.api import JOB_FORMATS, JOB_INPUT_FORMATS, MAX_SPEED, MIN_SPEED, OUTPUT_FORMATS, VERSION

ERROR = {"$ref": "#/components/schemas/Error"}
CONSENT = {"type": "boolean", "description": "Required: true confirms the speaker consented to their voice being "
           "cloned (recorded with the voice; without it a 400 consent_required)"}  # fmt: skip


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": _REASONS[code], "content": {"application/json": {"schema": ERROR}}}
        for code in codes
    }


_REASONS = {
    400: "Invalid request (empty input, bad format, malformed JSON)",
    401: "Missing or invalid API key",
    403: "Refused: a key of too narrow a scope (speak where admin is needed), or a browser's cross-site / "
    "DNS-rebinding request (see http.allowed_hosts, http.allowed_origins)",
    404: "Unknown voice (the message lists close matches)",
    409: "A voice of that name exists, or the job is not done yet",
    413: "Input or upload too large",
    415: "Wrong Content-Type",
    422: "The clip was rejected by the quality check (the error carries the report)",
    429: "Too many wrong API keys from this client: retry after Retry-After seconds",
    503: "Engine unavailable (worker crashed or restarting): retry after Retry-After seconds",
    507: "The data directory cannot be written (disk full, read-only): nothing was stored",
}


EngineOptions = tuple[tuple[str, tuple[Any, ...]], ...]
"""(engine name, its request options: engines.core.options.Option, as EngineInfo.options holds them)."""
"""(engine name, its declared options) for every running engine."""


@cache
def openapi_spec(engine_options: EngineOptions = ()) -> dict[str, Any]:
    voice = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "engine": {"type": "string"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"},
            "kind": {"type": "string", "enum": ["preset", "cloned"]},
            "speakers": {"type": "array", "items": {"type": "string"}},
            "sample_rate": {"type": "integer"},
            "attribution": {"type": "string"},
        },
    }
    speech = {
        "type": "object",
        "required": ["input"],
        "properties": {
            "model": {
                "type": "string",
                "default": "tts-1",
                "description": "tts-1, tts-1-hd, gpt-4o-mini-tts or an engine name",
            },
            "input": {"type": "string", "description": "Text to speak (limit: text.max_chars)"},
            "voice": {
                "type": "string",
                "description": "A voxhub voice or an OpenAI alias (alloy, echo, ...)",
            },
            "response_format": {"type": "string", "enum": list(OUTPUT_FORMATS), "default": "mp3"},
            "speed": {"type": "number", "minimum": MIN_SPEED, "maximum": MAX_SPEED, "default": 1.0},
            "stream_format": {"type": "string", "enum": ["audio", "sse"], "default": "audio"},
            "speaker": {
                "type": "string",
                "description": "Speaker of a multi-speaker voice (voxhub extension)",
            },
            "language": {
                "type": "string",
                "description": "Language to speak, e.g. en (voxhub extension; default: the voice's own)",
            },
            "options": {
                "type": "object",
                "description": "Engine options, checked against the engine's schema (voxhub extension; "
                "GET /v1/models lists each engine's)",
                "x-engine-options": {name: [o.to_dict() for o in opts] for name, opts in engine_options},
            },
        },
    }
    error = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    k: {"type": "string", "nullable": True} for k in ("message", "type", "param", "code")
                },
            }
        },
    }
    ok_json = {"description": "OK", "content": {"application/json": {}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "voxhub", "version": VERSION, "description": "OpenAI-compatible speech API of voxhub"},
        "components": {
            "schemas": {"SpeechRequest": speech, "Voice": voice, "Error": error},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/audio/speech": {
                "post": {
                    "summary": "Synthesize speech (OpenAI-compatible); streams audio as sentences finish",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SpeechRequest"}}}},
                    "responses": {
                        "200": {"description": "Audio in the requested format, or text/event-stream for stream_format=sse"},
                        **_errors(400, 401, 403, 404, 413, 415, 429, 503),
                    },
                }
            },
            "/v1/audio/clips/{clip_id}": {
                "parameters": [{"name": "clip_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {
                    "summary": "A recently rendered clip by id (the `url` of an MQTT announcement); no API key needed, the random id is the key",
                    "security": [],
                    "responses": {"200": {"description": "The audio file"},
                                  "404": {"description": "Unknown or expired clip (only recent clips are kept, in memory)",
                                          "content": {"application/json": {"schema": ERROR}}}},
                },
            },
            "/v1/models": {"get": {"summary": "List models (OpenAI aliases and engines)", "responses": {"200": ok_json}}},
            "/v1/voices": {
                "get": {"summary": "List every voice: engine presets and cloned voices", "responses": {"200": ok_json}},
                "post": {
                    "summary": "Enroll a cloned voice (admin key) from a reference clip: trimmed, transcribed, checked (a rejected clip is a 422 with the quality report and stores nothing)",
                    "requestBody": {
                        "content": {
                            "multipart/form-data": {"schema": {"type": "object", "properties": {
                                "name": {"type": "string"}, "file": {"type": "string", "format": "binary"},
                                "transcript": {"type": "string"}, "language": {"type": "string"}, "consent": CONSENT}}},
                            "application/json": {"schema": {"type": "object", "properties": {
                                "name": {"type": "string"}, "audio_b64": {"type": "string"},
                                "url": {"type": "string", "description": "https link to the clip (public addresses only)"},
                                "transcript": {"type": "string"}, "language": {"type": "string"}, "consent": CONSENT}}},
                        }
                    },
                    "responses": {"201": ok_json, **_errors(400, 401, 403, 409, 413, 422, 429, 503, 507)},
                },
            },
            "/v1/voices/{name}": {
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {"summary": "One voice; cloned voices add transcript, language and quality report", "responses": {"200": ok_json, **_errors(404)}},
                "delete": {"summary": "Remove a cloned voice (admin key)", "responses": {"200": ok_json, **_errors(400, 401, 403, 404, 429, 507)}},
            },
            "/v1/voices/{name}/reference": {
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {"summary": "A cloned voice's stored reference clip (the trimmed prompt), as 16-bit WAV",
                        "responses": {"200": {"description": "audio/wav"}, **_errors(400, 404)}},
            },
            "/v1/quality": {"post": {
                "summary": "Quality report of a clip (verdict accept/warn/reject, score, findings with advice); `against` a cloned voice adds speaker similarity, `text` the ASR round trip",
                "requestBody": {"content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"}, "against": {"type": "string"}, "text": {"type": "string"}}}},
                    "application/json": {"schema": {"type": "object", "properties": {
                        "audio_b64": {"type": "string"}, "url": {"type": "string"}, "against": {"type": "string"}, "text": {"type": "string"}}}},
                }},
                "responses": {"200": ok_json, **_errors(400, 401, 404, 413, 503)},
            }},
            "/v1/jobs": {
                "post": {
                    "summary": "Start a long-form job (text, Markdown or base64 EPUB in `input`, or `items`); 202 with the job",
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                        "input": {"type": "string"}, "input_format": {"type": "string", "enum": list(JOB_INPUT_FORMATS)},
                        "items": {"type": "array"}, "voice": {"type": "string"}, "format": {"type": "string",
                        "enum": list(JOB_FORMATS)}, "speed": {"type": "number"}, "options": {"type": "object"},
                        "webhook": {}}}}}},
                    "responses": {"202": ok_json, **_errors(400, 401, 403, 404, 413, 415)},
                },
                "get": {"summary": "Jobs, newest first", "responses": {"200": ok_json, **_errors(401)}},
            },
            "/v1/jobs/{job_id}": {
                "get": {"summary": "A job: state, chunks done/total, audio seconds, ETA, error, chapters",
                        "responses": {"200": ok_json, **_errors(401, 404)}},
                "delete": {"summary": "Cancel a job (admin key, or the key that created it)",
                           "responses": {"200": ok_json, **_errors(401, 403, 404)}},
            },
            "/v1/jobs/{job_id}/events": {"get": {"summary": "Progress as server-sent events: progress..., then done/failed/cancelled",
                                                 "responses": {"200": {"description": "text/event-stream"}, **_errors(401, 404)}}},
            "/v1/jobs/{job_id}/audio": {"get": {"summary": "A finished job's audio: m4b with chapter marks, zip of a WAV per chapter, or one file (`?format=` another)",
                                                "responses": {"200": {"description": "audio or zip"}, **_errors(401, 404, 409)}}},
            "/health": {"get": {"summary": "Per-engine worker state, cache size", "security": [], "responses": {"200": ok_json, **_errors(503)}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text/plain"}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": ok_json}}},
            "/docs": {"get": {"summary": "Human-readable API docs", "security": [], "responses": {"200": {"description": "HTML"}}}},
        },
    }  # fmt: skip


@cache
def docs_page(engine_options: EngineOptions = ()) -> str:
    spec = openapi_spec(engine_options)
    rows = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if method == "parameters":
                continue
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(op['summary'])}</td></tr>")  # fmt: skip
    props = spec["components"]["schemas"]["SpeechRequest"]["properties"]
    fields = "".join(
        f"<li><code>{name}</code>: {html.escape(str(p.get('description') or p.get('enum') or p.get('type')))}</li>"
        for name, p in props.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>voxhub API</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
td{{padding:.3rem .8rem;border-bottom:1px solid #ddd}}code{{background:#f4f4f4;padding:0 .2rem}}</style></head>
<body><h1>voxhub API {html.escape(spec["info"]["version"])}</h1>
<p>OpenAI-compatible: point the <code>openai</code> SDK's <code>base_url</code> at <code>http://HOST:PORT/v1</code>.
Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<table>{"".join(rows)}</table>
<h2>POST /v1/audio/speech</h2><ul>{fields}</ul>
<h3>Engine options (<code>options</code>)</h3>{_options_html(engine_options)}
<pre>curl -s http://127.0.0.1:8700/v1/audio/speech -H 'Content-Type: application/json' \\
  -d '{{"model": "tts-1", "voice": "alloy", "input": "Dinner is ready.", "response_format": "wav"}}' -o dinner.wav</pre>
<p>Errors have OpenAI's shape: <code>{{"error": {{"message", "type", "param", "code"}}}}</code>.</p>
</body></html>"""


def _options_html(engine_options: EngineOptions) -> str:
    if not any(opts for _, opts in engine_options):
        return "<p>The running engines take no options.</p>"
    items = []
    for name, opts in engine_options:
        for o in opts:
            default = "" if o.default is None else f" (default {o.default})"
            items.append(f"<li><code>{html.escape(name)}</code> <code>{html.escape(o.name)}</code>: "
                         f"{html.escape(o.describe())}{html.escape(default)}: {html.escape(o.help)}</li>")  # fmt: skip
    return f"<ul>{''.join(items)}</ul>"
