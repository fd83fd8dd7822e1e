"""MQTT command payloads: parsed into small typed commands, or rejected with a message naming the fix."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from adapters.mqtt.settings import valid_level, valid_target
from hub.api import VoxhubError, check_format, check_speed


class BadCommand(VoxhubError):
    """A payload the adapter cannot act on; it becomes an error result, and nothing changes."""

    code = "invalid_request"

    def __init__(self, message: str, *, command_id: Any = None, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.command_id = command_id
        self.code = code


@dataclass(frozen=True)
class Say:
    """`<prefix>/say`: speak `text` and publish the audio to `<prefix>/audio/<target>`."""

    text: str
    id: Any = None
    """Echoed in the result, so callers can match results to commands."""
    voice: str | None = None
    target: str | None = None
    format: str | None = None
    speed: float = 1.0


@dataclass(frozen=True)
class Enroll:
    """`<prefix>/enroll`: store a cloned voice from a reference clip (inline base64 or a URL)."""

    name: str
    audio: bytes = b""
    url: str = ""
    id: Any = None
    transcript: str = ""
    language: str = ""
    replace: bool = False
    consent: bool = False
    """The enroller confirms the speaker consented to being cloned (required by the hub)."""


@dataclass(frozen=True)
class Check:
    """`<prefix>/check`: a quality report for a clip (inline base64 or a URL)."""

    audio: bytes = b""
    url: str = ""
    id: Any = None


@dataclass(frozen=True)
class HermesSay:
    """`hermes/tts/say` (Rhasspy/Hermes): speak on a site's audio server."""

    text: str
    id: str
    site_id: str = "default"
    session_id: str | None = None
    lang: str | None = None


def _text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise BadCommand("the payload is not UTF-8 text: send JSON or plain UTF-8 text") from None


def _object(payload: bytes, example: str) -> dict[str, Any]:
    try:
        body = json.loads(_text(payload))
    except json.JSONDecodeError as exc:
        raise BadCommand(
            f"the payload is not valid JSON ({exc}): send a JSON object like {example}"
        ) from None
    if not isinstance(body, dict):
        raise BadCommand(f"the payload must be a JSON object like {example}, got {type(body).__name__}")
    return body


def _fields(body: dict[str, Any], allowed: tuple[str, ...], command: str) -> Any:
    """The command id, after checking that every key is known (a typo should not pass silently)."""
    command_id = body.get("id")
    if command_id is not None and (isinstance(command_id, bool) or not isinstance(command_id, (str, int))):
        raise BadCommand("`id` must be a string or an integer")
    unknown = sorted(set(body) - {"id", *allowed})
    if unknown:
        raise BadCommand(
            f"unknown key(s) {', '.join(unknown)} in {command}: valid keys are id, {', '.join(allowed)}",
            command_id=command_id,
        )
    return command_id


def _get(
    body: dict[str, Any], key: str, kind: type | tuple[type, ...], command_id: Any, default: Any = None
) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) and kind is not bool:
        value = object()  # booleans are ints in Python, never a valid text or number here
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise BadCommand(f"`{key}` must be a {expected}", command_id=command_id)
    return value


def parse_say(payload: bytes, *, max_bytes: int) -> Say:
    """A say command; a payload that is not a JSON object is the text itself (what HA's notify sends)."""
    if len(payload) > max_bytes:
        raise BadCommand(
            f"the payload is {len(payload)} bytes, over the {max_bytes}-byte limit: send shorter text",
            code="too_large",
        )
    raw = _text(payload).strip()
    if raw.startswith('"'):
        try:
            quoted = json.loads(raw)
        except json.JSONDecodeError:
            quoted = None
        if isinstance(quoted, str):
            raw = quoted.strip()
    if not raw.startswith("{"):
        if not raw:
            raise BadCommand("the payload is empty: send the text to speak", code="empty_input")
        return Say(text=raw)
    body = _object(payload, '{"text": "Dinner is ready"}')
    command_id = _fields(body, ("text", "voice", "target", "format", "speed"), "say")
    text = _get(body, "text", str, command_id, "")
    if not text.strip():
        raise BadCommand("`text` is required: the text to speak", command_id=command_id, code="empty_input")
    target = _get(body, "target", str, command_id)
    if target is not None and not valid_target(target):
        raise BadCommand(
            f"`target` {target!r} cannot be a topic level: use one level of 1-64 letters, digits, '-' or '_' "
            "(e.g. kitchen; no '/', '..', '+', '#' or empty levels)",
            command_id=command_id,
        )
    fmt = _get(body, "format", str, command_id)
    speed = _get(body, "speed", (int, float), command_id, 1.0)
    try:
        if fmt is not None:
            check_format(fmt, param="format")
        speed = check_speed(speed)
    except VoxhubError as exc:  # the hub's own rule and wording, with this command's id
        raise BadCommand(exc.message, command_id=command_id, code=exc.code) from None
    return Say(
        text=text,
        id=command_id,
        voice=_get(body, "voice", str, command_id),
        target=target,
        format=fmt,
        speed=speed,
    )


def _clip(body: dict[str, Any], command_id: Any, max_bytes: int) -> tuple[bytes, str]:
    encoded = _get(body, "audio_b64", str, command_id, "")
    url = _get(body, "url", str, command_id, "")
    if bool(encoded) == bool(url):
        raise BadCommand(
            "send the clip as either `audio_b64` (base64 of a wav/flac/mp3/ogg file) or `url` (http/https)",
            command_id=command_id,
            code="bad_audio",
        )
    if url:
        if not url.startswith(("http://", "https://")):
            raise BadCommand(f"`url` {url!r} must be an http:// or https:// URL", command_id=command_id)
        return b"", url
    if len(encoded) * 3 // 4 > max_bytes:
        raise BadCommand(
            f"the audio is about {len(encoded) * 3 / 4 / (1 << 20):.1f} MB, over the "
            f"{max_bytes / (1 << 20):.1f} MB limit (adapters.mqtt.max_audio_mb): send a shorter clip",
            command_id=command_id,
            code="too_large",
        )
    try:
        audio = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadCommand("`audio_b64` is not valid base64", command_id=command_id, code="bad_audio") from None
    return audio, ""


def _check_size(payload: bytes, max_bytes: int) -> None:
    # base64 grows the audio by a third; allow that plus room for the other fields.
    limit = max_bytes * 4 // 3 + 65536
    if len(payload) > limit:
        raise BadCommand(
            f"the payload is {len(payload) / (1 << 20):.1f} MB, over the {limit / (1 << 20):.1f} MB limit "
            "for a clip (adapters.mqtt.max_audio_mb): send a shorter clip, or a `url` to fetch it from",
            code="too_large",
        )


def parse_enroll(payload: bytes, *, max_bytes: int) -> Enroll:
    """An enroll command: `{name, audio_b64 | url, consent, transcript?, language?, replace?}`."""
    _check_size(payload, max_bytes)
    body = _object(payload, '{"name": "mum", "audio_b64": "..."}')
    command_id = _fields(
        body, ("name", "audio_b64", "url", "transcript", "language", "replace", "consent"), "enroll"
    )
    name = _get(body, "name", str, command_id, "")
    if not name:
        raise BadCommand("`name` is required: the new voice's name", command_id=command_id)
    audio, url = _clip(body, command_id, max_bytes)
    return Enroll(
        name=name,
        audio=audio,
        url=url,
        id=command_id,
        transcript=_get(body, "transcript", str, command_id, ""),
        language=_get(body, "language", str, command_id, ""),
        replace=_get(body, "replace", bool, command_id, False),
        consent=_get(body, "consent", bool, command_id, False),
    )


def parse_check(payload: bytes, *, max_bytes: int) -> Check:
    """A check command: `{audio_b64 | url}`."""
    _check_size(payload, max_bytes)
    body = _object(payload, '{"audio_b64": "..."}')
    command_id = _fields(body, ("audio_b64", "url"), "check")
    audio, url = _clip(body, command_id, max_bytes)
    return Check(audio=audio, url=url, id=command_id)


def parse_hermes_say(payload: bytes, *, max_bytes: int, new_id: str) -> HermesSay:
    """A Hermes `tts/say`; other Hermes keys are ignored, as Hermes services do."""
    if len(payload) > max_bytes:
        raise BadCommand(f"the payload is over the {max_bytes}-byte limit", code="too_large")
    body = _object(payload, '{"text": "Hello", "siteId": "default"}')
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadCommand("`text` is required: the text to speak", code="empty_input")
    site = body.get("siteId")
    session = body.get("sessionId")
    lang = body.get("lang")
    return HermesSay(
        text=text,
        # The id ends up in a topic (playBytes/<id>), so one that cannot be a topic level is replaced.
        id=str(body["id"]) if valid_level(str(body.get("id") or "")) else new_id,
        site_id=site if isinstance(site, str) and valid_level(site) else "default",
        session_id=session if isinstance(session, str) else None,
        lang=lang if isinstance(lang, str) else None,
    )
