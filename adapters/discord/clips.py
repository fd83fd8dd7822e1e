"""Enrollment clips from Discord attachments are judged by what Discord says about them before a byte is
downloaded; the download itself goes through the hub's guarded fetch, with a hard size cap (a declared size
can be wrong)."""

from __future__ import annotations

from pathlib import PurePosixPath

import discord

CLIP_EXTENSIONS = {".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".webm", ".mp4"}
CLIP_TYPES = ("audio/", "video/")


def looks_like_audio(clip: discord.Attachment) -> bool:
    """Whether the declared content type and file name are those of an audio (or video) recording."""
    content_type = (clip.content_type or "").split(";")[0].strip().lower()
    suffix = PurePosixPath(clip.filename.lower()).suffix
    if content_type:
        return content_type.startswith(CLIP_TYPES) and suffix in CLIP_EXTENSIONS | {""}
    return suffix in CLIP_EXTENSIONS
