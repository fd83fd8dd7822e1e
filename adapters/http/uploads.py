"""Reading an uploaded clip for /v1/voices and /v1/quality: multipart, JSON base64, or a URL to fetch.

Size limits are enforced before anything is decoded: a declared Content-Length over the limit is refused
before the body is read, and a streamed body is cut off as soon as it passes the limit.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import BodyPartReader, web

from hub.api import BadAudio, Hub, InvalidRequest, UploadTooLarge, WrongContentType

FIELD_SLACK = 64 << 10
"""Room for the form fields and multipart boundaries beside the clip itself."""
FILE_FIELDS = ("file", "audio")
TEXT_FIELD_LIMIT = 64 << 10
"""The largest text field of a multipart upload (a transcript of a 30 s clip is well under 1 KiB)."""


async def json_body(request: web.Request) -> dict[str, Any]:
    """A JSON request's body as an object; another Content-Type is refused naming the one to send."""
    if request.content_type != "application/json":
        raise WrongContentType(
            f"Content-Type must be application/json, got {request.content_type or 'none'!r}: send a JSON body"
        )
    return await read_json_object(request)


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; InvalidRequest names what is wrong with it."""
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON ({exc}): send a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def _too_large(limit: int, claimed: int | None = None) -> UploadTooLarge:
    what = f"the upload ({claimed} bytes)" if claimed is not None else "the upload"
    return UploadTooLarge(
        f"{what} is larger than the {limit} bytes allowed for a clip (enroll.max_upload_mb): "
        "send a shorter clip (10-30 s is plenty) or a compressed format such as opus or mp3",
        param="file",
    )


async def read_clip(request: web.Request, hub: Hub) -> tuple[bytes, dict[str, Any]]:
    """The clip's bytes and the other fields of the request (strings, or JSON values)."""
    limit = hub.max_upload_bytes
    claimed = request.content_length
    if claimed is not None and claimed > limit + FIELD_SLACK:
        raise _too_large(limit, claimed)
    if request.content_type.startswith("multipart/"):
        return await _multipart(request, limit)
    if request.content_type != "application/json":
        raise WrongContentType(
            f"Content-Type must be multipart/form-data (a `file` part) or application/json (`audio_b64` or "
            f"`url`), got {request.content_type or 'none'!r}"
        )
    body = await read_json_object(request)
    encoded, url = body.pop("audio_b64", None), body.pop("url", None)
    if encoded is not None and url is not None:
        raise InvalidRequest("send either `audio_b64` or `url`, not both", param="url")
    if url is not None:
        if not isinstance(url, str):
            raise InvalidRequest("`url` must be a string: an https:// link to the clip", param="url")
        return await hub.fetch_clip(url, max_bytes=limit), body
    if encoded is None:
        return b"", body
    if not isinstance(encoded, str):
        raise BadAudio("`audio_b64` must be a base64 string", param="audio_b64")
    try:
        clip = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadAudio("`audio_b64` is not valid base64", param="audio_b64") from None
    if len(clip) > limit:
        raise _too_large(limit, len(clip))
    return clip, body


async def _multipart(request: web.Request, limit: int) -> tuple[bytes, dict[str, Any]]:
    fields: dict[str, Any] = {}
    clip = bytearray()
    total = 0  # every part's bytes: many fields must not add up to more than a clip may
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise InvalidRequest("nested multipart bodies are not supported", param="file")
        is_file = part.name in FILE_FIELDS
        value = clip if is_file else bytearray()
        # Read every part to its end here, bounded: skipping one would make the reader drain it unbounded.
        while chunk := await part.read_chunk(1 << 16):
            value += chunk
            total += len(chunk)
            if is_file and len(clip) > limit:
                raise _too_large(limit)
            if not is_file and len(value) > TEXT_FIELD_LIMIT:
                raise UploadTooLarge(
                    f"form field `{part.name}` is larger than {TEXT_FIELD_LIMIT} bytes: text fields (name, "
                    "transcript, language) are short; send the clip itself as `file`",
                    param=part.name or "file",
                )
            if total > limit + FIELD_SLACK:
                raise _too_large(limit)
        if part.name and not is_file:
            fields[part.name] = bytes(value).decode("utf-8", errors="replace")
    return bytes(clip), fields


def flag(value: Any) -> bool:
    """A boolean form field: JSON true, or "1"/"true"/"yes"."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on")


def text_field(fields: dict[str, Any], name: str) -> str:
    """A string field ('' when absent); InvalidRequest when it is not a string."""
    value = fields.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"`{name}` must be a string, got {type(value).__name__}", param=name)
    return value
