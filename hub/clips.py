"""Recently rendered audio clips, kept in memory so the HTTP API can serve them by id.

Adapters that deliver audio out of band (an MQTT announcement) also hand out a URL of the same clip, for
players that fetch media themselves (Home Assistant's `media_player.play_media`). Clips live only in
memory and only the newest ones are kept: a URL is for playing now, not for archiving.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

MAX_CLIPS = 64
MAX_BYTES = 64 << 20

# Players often pick a decoder from the URL's suffix, so ids end in the format's usual extension.
_EXTENSIONS = {
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/aac": "aac",
    "audio/flac": "flac",
    "application/octet-stream": "pcm",
}


@dataclass(frozen=True)
class Clip:
    """One stored clip."""

    data: bytes
    content_type: str


class ClipStore:
    """A bounded, oldest-out store of clips under unguessable ids."""

    def __init__(self, max_clips: int = MAX_CLIPS, max_bytes: int = MAX_BYTES) -> None:
        self.max_clips = max_clips
        self.max_bytes = max_bytes
        self._clips: OrderedDict[str, Clip] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._clips)

    def add(self, data: bytes, content_type: str) -> str:
        """Store a clip and return its id (a random token plus the format's extension)."""
        # The id doubles as the credential for fetching the clip, so it must not be guessable.
        clip_id = f"{secrets.token_urlsafe(16)}.{_EXTENSIONS.get(content_type, 'bin')}"
        self._clips[clip_id] = Clip(bytes(data), content_type)
        self._bytes += len(data)
        # The clip just added always stays, even alone over the byte bound: its URL is about to be handed out.
        while len(self._clips) > 1 and (len(self._clips) > self.max_clips or self._bytes > self.max_bytes):
            _, old = self._clips.popitem(last=False)
            self._bytes -= len(old.data)
        return clip_id

    def get(self, clip_id: str) -> Clip | None:
        """The clip stored under `clip_id`, or None once it has been evicted (or never existed)."""
        return self._clips.get(clip_id)
