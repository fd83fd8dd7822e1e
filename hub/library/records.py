"""What the voice library stores: an enrolled voice (VoiceRecord) and a synthesis cache hit (CachedAudio)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engines.core.interface import VoiceInfo


@dataclass(frozen=True)
class VoiceRecord:
    """An enrolled (cloned) voice as stored in the library."""

    name: str
    language: str = ""
    transcript: str = ""
    reference: bytes = field(default=b"", repr=False)
    """Mono float32 little-endian samples; empty in `list_voices` results."""
    reference_rate: int = 0
    engine: str | None = None
    """The engine that speaks it by default; None = the hub's default cloning engine."""
    embedding: bytes | None = field(default=None, repr=False)
    quality: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0
    updated_at: float = 0
    consent: dict[str, Any] | None = None
    """Who enrolled the voice, when, and their confirmation that the speaker consented (None: not recorded)."""

    def to_info(self, default_engine: str = "") -> VoiceInfo:
        """This voice as the hub lists it."""
        return VoiceInfo(
            name=self.name,
            engine=self.engine or default_engine,
            languages=(self.language,) if self.language else (),
            description=str(self.metadata.get("description") or "cloned voice"),
            kind="cloned",
        )


@dataclass(frozen=True)
class CachedAudio:
    """A synthesis cache hit: raw PCM and its format."""

    rate: int
    width: int
    channels: int
    audio: bytes


VOICE_COLUMNS = "name, engine, language, transcript, reference_rate, embedding, quality, metadata, "
VOICE_COLUMNS += "created_at, updated_at, consent"


def record_from_row(row: dict[str, Any]) -> VoiceRecord:
    quality = row["quality"]
    return VoiceRecord(
        name=row["name"],
        language=row["language"],
        transcript=row["transcript"],
        reference=row.get("reference", b""),
        reference_rate=row["reference_rate"],
        engine=row["engine"],
        embedding=row["embedding"],
        quality=None if quality is None else json.loads(quality),
        metadata=json.loads(row["metadata"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        consent=None if row.get("consent") is None else json.loads(row["consent"]),
    )
