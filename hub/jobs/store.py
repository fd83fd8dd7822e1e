"""Jobs and their chunks in the voice library's SQLite file (tables from migration 5).

Every chunk's audio is committed the moment it is synthesized, so a job killed at any point loses at most
the chunks that were still being synthesized; a finished chunk is never written twice.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hub.jobs.audio import Piece
from hub.jobs.text import Chunk
from hub.library import VoiceLibrary
from hub.library.schema import Database

ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")


class JobStore:
    """Synchronous reads and writes; the runner calls them through asyncio.to_thread."""

    def __init__(self, library: VoiceLibrary) -> None:
        self.library = library

    def create(
        self, job_id: str, spec: dict[str, Any], titles: list[str], chunks: list[Chunk], owner: str
    ) -> None:
        def write(db: Database) -> None:
            db.table("jobs").insert({
                "id": job_id, "state": "queued", "spec": json.dumps(spec), "chapters": json.dumps(titles),
                "owner": owner, "error": None, "total": len(chunks), "created_at": time.time(),
                "started_at": None, "finished_at": None, "webhook_state": None,
            })  # fmt: skip
            db.table("job_chunks").insert_all(
                {"job": job_id, "idx": i, "chapter": c.chapter, "text": c.text, "state": "pending", "attempts": 0}
                for i, c in enumerate(chunks)
            )  # fmt: skip

        self.library.write(write)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's row with its progress (chunks done, audio seconds, synthesis seconds), or None."""
        db = self.library.reader()
        row = next(db.query("SELECT * FROM jobs WHERE id = ?", [job_id]), None)
        if row is None:
            return None
        stats = db.execute(
            "SELECT count(*), coalesce(sum(seconds), 0), coalesce(sum(synth_s), 0), "
            "coalesce(sum(length(text)), 0) FROM job_chunks WHERE job = ? AND state = 'done'",
            [job_id],
        ).fetchone()
        total_chars = db.execute("SELECT coalesce(sum(length(text)), 0) FROM job_chunks WHERE job = ?",
                                 [job_id]).fetchone()[0]  # fmt: skip
        return {**row, "spec": json.loads(row["spec"]), "chapters": json.loads(row["chapters"]),
                "done": stats[0], "audio_s": stats[1], "synth_s": stats[2], "done_chars": stats[3],
                "total_chars": total_chars}  # fmt: skip

    def recent(self, limit: int = 100) -> list[str]:
        sql = "SELECT id FROM jobs ORDER BY created_at DESC LIMIT ?"
        return [r[0] for r in self.library.reader().execute(sql, [limit]).fetchall()]

    def active(self) -> list[str]:
        sql = "SELECT id FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at"
        return [r[0] for r in self.library.reader().execute(sql).fetchall()]

    def unannounced(self) -> list[str]:
        """Jobs that ended with a webhook not yet tried (the daemon stopped in between)."""
        sql = ("SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND webhook_state IS NULL "
               "AND json_extract(spec, '$.webhook') IS NOT NULL")  # fmt: skip
        return [r[0] for r in self.library.reader().execute(sql).fetchall()]

    def pending(self, job_id: str) -> list[tuple[int, str]]:
        sql = "SELECT idx, text FROM job_chunks WHERE job = ? AND state != 'done' ORDER BY idx"
        return [(r[0], r[1]) for r in self.library.reader().execute(sql, [job_id]).fetchall()]

    def finish_chunk(self, job_id: str, idx: int, pcm: bytes, rate: int, synth_s: float) -> bool:
        """Store a chunk's audio; False if it was already done (it is then left as it was)."""

        def write(db: Database) -> bool:
            cursor = db.execute(
                "UPDATE job_chunks SET state = 'done', audio = ?, rate = ?, seconds = ?, synth_s = ?, "
                "finished_at = ?, attempts = attempts + 1, error = NULL "
                "WHERE job = ? AND idx = ? AND state != 'done'",
                [pcm, rate, len(pcm) / 2 / rate, synth_s, time.time(), job_id, idx],
            )
            return bool(cursor.rowcount)

        return self.library.write(write)

    def fail_chunk(self, job_id: str, idx: int, error: str) -> None:
        sql = "UPDATE job_chunks SET attempts = attempts + 1, error = ? WHERE job = ? AND idx = ?"
        self.library.write(lambda db: db.execute(sql, [error, job_id, idx]))

    def set_state(self, job_id: str, state: str, error: str | None = None) -> None:
        now = time.time()

        def write(db: Database) -> None:
            if state == "running":
                db.execute("UPDATE jobs SET state = ?, started_at = coalesce(started_at, ?) WHERE id = ?",
                           [state, now, job_id])  # fmt: skip
            else:
                done_at = now if state in FINAL else None
                db.execute("UPDATE jobs SET state = ?, error = ?, finished_at = ? WHERE id = ?",
                           [state, error, done_at, job_id])  # fmt: skip

        self.library.write(write)

    def delete(self, job_id: str) -> None:
        """Remove a job and its chunks' audio (the chunks go with it: ON DELETE CASCADE)."""

        def write(db: Database) -> None:
            db.execute("DELETE FROM job_chunks WHERE job = ?", [job_id])
            db.execute("DELETE FROM jobs WHERE id = ?", [job_id])

        self.library.write(write)

    def set_webhook_state(self, job_id: str, state: str) -> None:
        sql = "UPDATE jobs SET webhook_state = ? WHERE id = ?"
        self.library.write(lambda db: db.execute(sql, [state, job_id]))

    def chunks(self, job_id: str) -> list[dict[str, Any]]:
        """Every chunk without its audio: index, chapter, state, attempts, seconds, finished_at, error."""
        sql = ("SELECT idx, chapter, state, attempts, seconds, finished_at, error FROM job_chunks WHERE job = ? "
               "ORDER BY idx")  # fmt: skip
        return list(self.library.reader().query(sql, [job_id]))

    def pieces(self, job_id: str) -> list[Piece]:
        sql = "SELECT chapter, audio, rate FROM job_chunks WHERE job = ? AND state = 'done' ORDER BY idx"
        return [Piece(r[0], r[1], r[2]) for r in self.library.reader().execute(sql, [job_id]).fetchall()]
