"""Enrolled voices in the library: their rows and reference clips, and the prompts engines derive from them."""

from __future__ import annotations

import json
import time

from engines.core.interface import VoiceInfo
from hub.errors import BadAudio, VoiceExists, VoiceNotFound
from hub.library.database import LibraryDatabase
from hub.library.records import VOICE_COLUMNS, VoiceRecord, record_from_row
from hub.library.schema import Database
from hub.rules import check_voice_name


class VoiceTables(LibraryDatabase):
    """Voices, their clips and engine prompts (tables voices, voice_clips, prompts)."""

    def add_voice(self, record: VoiceRecord, *, replace: bool = False) -> VoiceRecord:
        """Store a voice (VoiceExists unless `replace`); returns it as stored. Replacing drops its prompts."""
        check_voice_name(record.name)
        if len(record.reference) % 4:
            raise BadAudio("a voice reference must be float32 samples (a multiple of 4 bytes)")
        if record.reference and record.reference_rate <= 0:
            raise BadAudio("a voice reference needs its sample rate (reference_rate > 0)")
        # Serialize here, in the caller, so bad JSON fails before anything is queued.
        quality = None if record.quality is None else json.dumps(record.quality)
        metadata = json.dumps(record.metadata)
        consent = None if record.consent is None else json.dumps(record.consent)

        def write(db: Database) -> VoiceRecord:
            old = db.execute("SELECT created_at FROM voices WHERE name = ?", [record.name]).fetchone()
            if old and not replace:
                raise VoiceExists(f"voice {record.name!r} already exists", param="name")
            now = time.time()
            created = record.created_at or (old[0] if old else now)
            # Delete then insert (not INSERT OR REPLACE) so the cascade visibly drops prompts that
            # were derived from the old reference clip.
            db.execute("DELETE FROM voices WHERE name = ?", [record.name])
            row = {
                "name": record.name,
                "engine": record.engine,
                "language": record.language,
                "transcript": record.transcript,
                "reference": b"",  # the clip lives in voice_clips (migration 4)
                "reference_rate": record.reference_rate,
                "embedding": record.embedding,
                "quality": quality,
                "metadata": metadata,
                "created_at": created,
                "updated_at": now,
                "consent": consent,
            }
            db.table("voices").insert(row)
            db.table("voice_clips").insert({"name": record.name, "reference": record.reference})
            return record_from_row({**row, "reference": record.reference})

        return self._submit(write)

    def get_voice(self, name: str) -> VoiceRecord | None:
        """The full voice (reference clip included), or None."""
        columns = ", ".join(f"v.{c.strip()}" for c in VOICE_COLUMNS.split(",") if c.strip())
        sql = f"SELECT {columns}, c.reference FROM voices v JOIN voice_clips c USING (name) WHERE v.name = ?"
        row = next(self._read().query(sql, [name]), None)
        return None if row is None else record_from_row(row)

    def list_voices(self) -> list[VoiceRecord]:
        """All voices by name in one query, WITHOUT their reference clips (`reference == b""`): use get_voice."""
        return [
            record_from_row(r)
            for r in self._read().query(f"SELECT {VOICE_COLUMNS} FROM voices ORDER BY name")
        ]

    def list_voice_infos(self, default_engine: str = "") -> list[VoiceInfo]:
        """Every voice as the hub lists it, in one light query (what `VoiceRecord.to_info` gives, per row)."""
        sql = ("SELECT name, engine, language, json_extract(metadata, '$.description') FROM voices "
               "ORDER BY name")  # fmt: skip
        rows = self._read().execute(sql)
        return [
            VoiceInfo(
                name, engine or default_engine, (lang,) if lang else (), str(desc or "cloned voice"), "cloned"
            )
            for name, engine, lang, desc in rows
        ]

    def voice_names(self) -> list[str]:
        """All voice names, sorted."""
        return [r[0] for r in self._read().execute("SELECT name FROM voices ORDER BY name")]

    def delete_voice(self, name: str) -> bool:
        """Delete a voice and its prompts; False if there was none."""
        return self._submit(lambda db: db.execute("DELETE FROM voices WHERE name = ?", [name]).rowcount > 0)

    # engine prompts (derived from a voice's reference by one engine version)

    def get_prompt(self, voice: str, engine: str, engine_version: str) -> bytes | None:
        """The prompt `engine` at `engine_version` prepared for `voice`, or None."""
        sql = "SELECT prompt FROM prompts WHERE voice = ? AND engine = ? AND engine_version = ?"
        row = self._read().execute(sql, [voice, engine, engine_version]).fetchone()
        return None if row is None else bytes(row[0])

    def put_prompt(self, voice: str, engine: str, engine_version: str, prompt: bytes) -> None:
        """Store (or replace) a prepared prompt; VoiceNotFound if the voice is gone."""

        def write(db: Database) -> None:
            if not db.execute("SELECT 1 FROM voices WHERE name = ?", [voice]).fetchone():
                raise VoiceNotFound(f"voice {voice!r} not found", param="voice")
            db.execute(
                "INSERT OR REPLACE INTO prompts (voice, engine, engine_version, prompt, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [voice, engine, engine_version, prompt, time.time()],
            )

        self._submit(write)
