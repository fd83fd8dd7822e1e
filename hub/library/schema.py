"""The voice library's schema: its migrations, in order, and how they run (one transaction each).

Every table of the library file is created here: voices and their clips, engine prompts, the synthesis cache,
chat users' voices, API keys and long-form jobs. `run_migrations` applies the steps not yet recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import sqlite_utils
from sqlite_utils.db import ForeignKey

log = logging.getLogger("hub.library")

Database = sqlite_utils.Database


class Migration(NamedTuple):
    """One schema step; `id`s only ever grow and a recorded migration is never edited."""

    id: int
    name: str
    apply: Callable[[Database], None]


def _m1_initial(db: Database) -> None:
    db.table("voices").create(
        {
            "name": str,
            "engine": str,  # NULL: the hub's default cloning engine speaks it
            "language": str,
            "transcript": str,
            "reference": bytes,  # mono float32 little-endian samples
            "reference_rate": int,
            "embedding": bytes,
            "quality": str,  # JSON or NULL
            "metadata": str,  # JSON object
            "created_at": float,
            "updated_at": float,
        },
        pk="name",
        not_null=[
            "name",
            "language",
            "transcript",
            "reference",
            "reference_rate",
            "metadata",
            "created_at",
            "updated_at",
        ],
        defaults={"language": "", "transcript": "", "metadata": "{}"},
    )
    db.table("prompts").create(
        {"voice": str, "engine": str, "engine_version": str, "prompt": bytes, "created_at": float},
        pk=("voice", "engine", "engine_version"),
        not_null=["voice", "engine", "engine_version", "prompt"],
        foreign_keys=[ForeignKey("prompts", "voice", "voices", "name", on_delete="CASCADE")],
    )
    cache = db.table("synth_cache")
    cache.create(
        {
            "key": str,
            "rate": int,
            "width": int,
            "channels": int,
            "audio": bytes,
            "size": int,
            "created_at": float,
            "last_used": float,
        },
        pk="key",
        not_null=["key", "rate", "width", "channels", "audio", "size", "last_used"],
    )
    cache.create_index(["last_used"])  # eviction walks entries oldest-used first


def _m2_user_voices(db: Database) -> None:
    # A chat user's chosen voice, per platform ("discord", "slack"); no foreign key: a removed voice is
    # simply no longer used (the adapter falls back to its default and says so).
    db.table("user_voices").create(
        {"platform": str, "user_id": str, "voice": str, "updated_at": float},
        pk=("platform", "user_id"),
        not_null=["platform", "user_id", "voice", "updated_at"],
    )


def _m3_api_keys(db: Database) -> None:
    # API keys created by `voxhub keys create`: only a SHA-256 of each (high-entropy) key is kept.
    keys = db.table("api_keys")
    keys.create(
        {"name": str, "hash": str, "scope": str, "created_at": float, "last_used": float},
        pk="name",
        not_null=["name", "hash", "scope", "created_at"],
    )
    keys.create_index(["hash"], unique=True)


def _m4_voice_clips(db: Database) -> None:
    # Reference clips move out of the voices row. A row's columns after a big blob (embedding, quality,
    # metadata, dates) sit behind the blob's overflow pages, so listing 1000 voices walked ~1000 clips
    # (hundreds of ms, growing faster than the library). voices.reference stays as an always-empty
    # column: dropping it would rebuild the table, and that rebuild would cascade-delete the prompts.
    db.table("voice_clips").create(
        {"name": str, "reference": bytes},
        pk="name",
        not_null=["name", "reference"],
        foreign_keys=[ForeignKey("voice_clips", "name", "voices", "name", on_delete="CASCADE")],
    )
    db.execute("INSERT INTO voice_clips (name, reference) SELECT name, reference FROM voices")
    db.execute("UPDATE voices SET reference = x''")


def _m5_jobs(db: Database) -> None:
    # Long-form jobs (hub.jobs), chunk by chunk with their audio, so a job survives a restart. Id 5, after
    # voice_clips (4).
    db.table("jobs").create(
        {"id": str, "state": str, "spec": str, "chapters": str, "owner": str, "error": str,
         "total": int, "created_at": float, "started_at": float, "finished_at": float,
         "webhook_state": str},
        pk="id",
        not_null=["id", "state", "spec", "chapters", "total", "created_at"],
    )  # fmt: skip
    chunks = db.table("job_chunks")
    chunks.create(
        {"job": str, "idx": int, "chapter": int, "text": str, "state": str, "attempts": int,
         "audio": bytes, "rate": int, "seconds": float, "synth_s": float, "finished_at": float,
         "error": str},
        pk=("job", "idx"),
        not_null=["job", "idx", "chapter", "text", "state", "attempts"],
        defaults={"state": "pending", "attempts": 0},
        foreign_keys=[ForeignKey("job_chunks", "job", "jobs", "id", on_delete="CASCADE")],
    )  # fmt: skip


def _m6_voice_consent(db: Database) -> None:
    # Who enrolled each voice, when, and their confirmation that the speaker consented to being cloned (a
    # JSON object); NULL for voices enrolled before consent was recorded.
    db.execute("ALTER TABLE voices ADD COLUMN consent TEXT")


MIGRATIONS: list[Migration] = [
    Migration(1, "initial", _m1_initial),
    Migration(2, "user_voices", _m2_user_voices),
    Migration(3, "api_keys", _m3_api_keys),
    Migration(4, "voice_clips", _m4_voice_clips),
    Migration(5, "jobs", _m5_jobs),
    Migration(6, "voice_consent", _m6_voice_consent),
]
"""The registry, in order. Append new steps; `open` runs those not yet in `_migrations`."""


def run_migrations(db: Database) -> list[int]:
    migrations = MIGRATIONS  # read at call time so tests (and plugins) can extend the registry
    ids = [m.id for m in migrations]
    if ids != sorted(set(ids)):
        raise ValueError(f"migration ids must be unique and increasing, got {ids}")
    db.table("_migrations").create({"id": int, "name": str, "applied_at": float}, pk="id", if_not_exists=True)
    ran = []
    for migration in migrations:
        # One transaction per step, re-checked under the write lock in case another process
        # migrated the same file meanwhile.
        with transaction(db):
            if db.execute("SELECT 1 FROM _migrations WHERE id = ?", [migration.id]).fetchone():
                continue
            migration.apply(db)
            db.table("_migrations").insert(
                {"id": migration.id, "name": migration.name, "applied_at": time.time()}
            )
            ran.append(migration.id)
    newest = db.execute("SELECT max(id) FROM _migrations").fetchone()[0]
    if ids and newest > ids[-1]:
        log.warning("the voice library has migration %s, newer than this voxhub knows", newest)
    return ran


@contextmanager
def transaction(db: Database) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front: a deferred transaction that reads then writes can
    # fail with SQLITE_BUSY without the busy handler ever being consulted.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.commit()
    except BaseException:
        db.rollback()  # a no-op if the error already ended the transaction
        raise
