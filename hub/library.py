"""The voice library: enrolled voices, engine prompts and the synthesis cache, in one SQLite file.

Concurrency model: every write goes through one writer thread that owns the only write connection
(fed by a queue; each write is one transaction, so a crash never leaves half a voice behind). Reads
use one connection per thread and, thanks to WAL, never wait for the writer.
"""

from __future__ import annotations

import errno
import json
import logging
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

import sqlite_utils
from sqlite_utils.db import ForeignKey

from engines.core.interface import VoiceInfo
from hub.errors import BadAudio, InvalidRequest, InvalidVoiceName, StorageError, VoiceExists, VoiceNotFound

log = logging.getLogger(__name__)

T = TypeVar("T")
Database = sqlite_utils.Database


# --- migrations -----------------------------------------------------------------------------------


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


def _run_migrations(db: Database) -> list[int]:
    migrations = MIGRATIONS  # read at call time so tests (and plugins) can extend the registry
    ids = [m.id for m in migrations]
    if ids != sorted(set(ids)):
        raise ValueError(f"migration ids must be unique and increasing, got {ids}")
    db.table("_migrations").create({"id": int, "name": str, "applied_at": float}, pk="id", if_not_exists=True)
    ran = []
    for migration in migrations:
        # One transaction per step, re-checked under the write lock in case another process
        # migrated the same file meanwhile.
        with _transaction(db):
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
def _transaction(db: Database) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front: a deferred transaction that reads then writes can
    # fail with SQLITE_BUSY without the busy handler ever being consulted.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.commit()
    except BaseException:
        db.rollback()  # a no-op if the error already ended the transaction
        raise


# --- values ---------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = (
    "voice names are 1-64 characters: ASCII letters, digits, '-', '_' or '.', "
    "starting with a letter or digit, without '..'"
)


def validate_voice_name(name: object) -> str:
    """Return `name` if it is a valid voice name, else raise InvalidVoiceName stating the rule."""
    # The name ends up in URLs, file names and log lines: no separators, no dot-files, no `..`.
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        raise InvalidVoiceName(f"invalid voice name {name!r}: {NAME_RULE}", param="name")
    return name


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


_VOICE_COLUMNS = "name, engine, language, transcript, reference_rate, embedding, quality, metadata, "
_VOICE_COLUMNS += "created_at, updated_at, consent"


def _record(row: dict[str, Any]) -> VoiceRecord:
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


_STORAGE_MESSAGES = ("disk is full", "readonly database", "unable to open database", "disk i/o error",
                     "read-only file system", "no space left", "permission denied")  # fmt: skip


def _is_storage_problem(exc: BaseException) -> bool:
    """A write failed because of the disk or the directory, not because of what was written."""
    if isinstance(exc, OSError) and exc.errno in (
        errno.ENOSPC,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EDQUOT,
    ):
        return True
    return isinstance(exc, (sqlite3.Error, OSError)) and any(m in str(exc).lower() for m in _STORAGE_MESSAGES)


def storage_error(path: Path, exc: BaseException) -> StorageError:
    """The error that names the data directory and what to do about it."""
    reason = str(exc).lower()
    if (
        "full" in reason
        or "no space" in reason
        or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
    ):
        fix = "the disk is full: free space there, or move the data directory (VOXHUB_DATA_DIR / data_dir)"
    else:
        fix = (f"it is not writable ({exc}): give the daemon's user write access, or choose another data "
               "directory (VOXHUB_DATA_DIR / data_dir)")  # fmt: skip
    return StorageError(f"cannot write the voice library {path} in the data directory {path.parent}: {fix}")


class _Job(NamedTuple):
    fn: Callable[[Database], Any]
    future: Future[Any] | None  # None: fire and forget (errors are logged)
    transactional: bool


_STOP = object()


# --- the library ----------------------------------------------------------------------------------


class VoiceLibrary:
    """Voices, prompts and the synthesis cache in one SQLite file. Thread-safe."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        """Use `VoiceLibrary.open`; this only sets fields."""
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()  # guards _closed, _readers and the enqueue/close race
        self._closed = False
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._touches: dict[str, float] = {}  # cache hits not yet written: key -> last_used
        self._touch_lock = threading.Lock()
        self._last_stamp = 0.0
        self._stamp_lock = threading.Lock()
        # Writer-thread state: running total of synth_cache sizes (None = recount) and the
        # data_version it was counted at (another process writing the file changes it).
        self._cache_total: int | None = None
        self._data_version = -1
        self._storage_warned = False

    # lifecycle

    @classmethod
    def open(cls, path: Path, *, busy_timeout: float = 5.0) -> VoiceLibrary:
        """Open (creating if needed) the library at `path` and bring its schema up to date.

        StorageError (one line naming the directory and the fix) when the directory cannot be written."""
        library = cls(path, busy_timeout=busy_timeout)
        try:
            # Voices are biometric data: a new data directory and the library are the owner's alone.
            library.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            library.path.touch(mode=0o600, exist_ok=True)  # SQLite gives -wal and -shm the same mode
        except OSError as exc:
            raise storage_error(library.path, exc) from None
        ready: Future[None] = Future()
        library._writer = threading.Thread(
            # daemon: a library never closed must not hang interpreter exit; every public write
            # has already waited for its commit, so only pending cache-hit stamps could be lost.
            target=library._write_loop,
            args=(ready,),
            name="voxhub-library-writer",
            daemon=True,
        )
        library._writer.start()
        try:
            ready.result()
            library._submit(_run_migrations, transactional=False)
        except BaseException as exc:
            library.close()
            if _is_storage_problem(exc):
                raise storage_error(library.path, exc) from None
            raise
        return library

    def close(self) -> None:
        """Finish queued writes, stop the writer and close every connection. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)  # after every job already queued
            readers, self._readers = self._readers, []
        if self._writer is not None and self._writer is not threading.current_thread():
            self._writer.join()
        for conn in readers:
            conn.close()

    def __enter__(self) -> VoiceLibrary:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def flush(self) -> None:
        """Wait until every write queued so far (cache-hit stamps included) is committed."""
        self._submit(lambda db: None, transactional=False)

    # voices

    def add_voice(self, record: VoiceRecord, *, replace: bool = False) -> VoiceRecord:
        """Store a voice (VoiceExists unless `replace`); returns it as stored. Replacing drops its prompts."""
        validate_voice_name(record.name)
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
            return _record({**row, "reference": record.reference})

        return self._submit(write)

    def get_voice(self, name: str) -> VoiceRecord | None:
        """The full voice (reference clip included), or None."""
        columns = ", ".join(f"v.{c.strip()}" for c in _VOICE_COLUMNS.split(",") if c.strip())
        sql = f"SELECT {columns}, c.reference FROM voices v JOIN voice_clips c USING (name) WHERE v.name = ?"
        row = next(self._read().query(sql, [name]), None)
        return None if row is None else _record(row)

    def list_voices(self) -> list[VoiceRecord]:
        """All voices by name in one query, WITHOUT their reference clips (`reference == b""`): use get_voice."""
        return [_record(r) for r in self._read().query(f"SELECT {_VOICE_COLUMNS} FROM voices ORDER BY name")]

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

    # chat users' remembered voices

    def get_user_voice(self, platform: str, user_id: str) -> str | None:
        """The voice a chat user chose on `platform`, or None."""
        sql = "SELECT voice FROM user_voices WHERE platform = ? AND user_id = ?"
        row = self._read().execute(sql, [platform, user_id]).fetchone()
        return None if row is None else str(row[0])

    def set_user_voice(self, platform: str, user_id: str, voice: str | None) -> None:
        """Remember (or with None, forget) a chat user's voice on `platform`."""

        def write(db: Database) -> None:
            if voice is None:
                db.execute("DELETE FROM user_voices WHERE platform = ? AND user_id = ?", [platform, user_id])
            else:
                db.table("user_voices").upsert(
                    {"platform": platform, "user_id": user_id, "voice": voice, "updated_at": time.time()},
                    pk=("platform", "user_id"),
                )

        self._submit(write)

    # API keys (hub.keys): hashes only

    def add_api_key(self, name: str, digest: str, scope: str) -> None:
        """Store a key's hash under `name`; InvalidRequest if the name is taken."""

        def write(db: Database) -> None:
            if db.execute("SELECT 1 FROM api_keys WHERE name = ?", [name]).fetchone():
                raise InvalidRequest(f"a key named {name!r} exists: revoke it first or pick another name")
            db.table("api_keys").insert(
                {"name": name, "hash": digest, "scope": scope, "created_at": time.time(), "last_used": None}
            )

        self._submit(write)

    def api_keys(self) -> list[dict[str, Any]]:
        """Every key's name, scope, created_at and last_used (never the hash)."""
        sql = "SELECT name, scope, created_at, last_used FROM api_keys ORDER BY name"
        return list(self._read().query(sql))

    def has_api_keys(self) -> bool:
        """Whether any key was created."""
        return bool(self._read().execute("SELECT EXISTS (SELECT 1 FROM api_keys)").fetchone()[0])

    def api_key_scope(self, digest: str) -> tuple[str, str] | None:
        """(name, scope) of the key with this hash, or None."""
        row = self._read().execute("SELECT name, scope FROM api_keys WHERE hash = ?", [digest]).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def revoke_api_key(self, name: str) -> bool:
        """Delete a key; False if there was none."""
        return self._submit(lambda db: db.execute("DELETE FROM api_keys WHERE name = ?", [name]).rowcount > 0)

    def touch_api_key(self, name: str) -> None:
        """Record that a key was used (in the background: a request never waits for it)."""
        sql = "UPDATE api_keys SET last_used = ? WHERE name = ?"
        self._enqueue(lambda db: db.execute(sql, [time.time(), name]), None, True)

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

    # synthesis cache (LRU, bounded by bytes)

    def cache_get(self, key: str) -> CachedAudio | None:
        """A cached synthesis, or None. Never waits for the writer: the hit is stamped later."""
        sql = "SELECT rate, width, channels, audio FROM synth_cache WHERE key = ?"
        row = self._read().execute(sql, [key]).fetchone()
        if row is None:
            return None
        self._touch(key)
        return CachedAudio(*row)

    def cache_put(
        self, key: str, rate: int, width: int, channels: int, audio: bytes, *, max_bytes: int
    ) -> None:
        """Store audio under `key`, then evict least-recently-used entries until total <= max_bytes."""
        stamp = self._stamp()

        def write(db: Database) -> None:
            total = self._cache_size(db)
            old = db.execute("SELECT size FROM synth_cache WHERE key = ?", [key]).fetchone()
            total -= old[0] if old else 0
            if len(audio) > max_bytes:  # could never fit (max_bytes=0 stores nothing)
                db.execute("DELETE FROM synth_cache WHERE key = ?", [key])
            else:
                db.execute(
                    "INSERT OR REPLACE INTO synth_cache"
                    " (key, rate, width, channels, audio, size, created_at, last_used)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [key, rate, width, channels, audio, len(audio), time.time(), stamp],
                )
                total += len(audio)
            if total > max_bytes:
                victims = []
                # rowid breaks ties between equal stamps (e.g. from another process's clock).
                for victim, size in db.execute("SELECT key, size FROM synth_cache ORDER BY last_used, rowid"):
                    if total <= max_bytes:
                        break
                    victims.append((victim,))
                    total -= size
                db.conn.executemany("DELETE FROM synth_cache WHERE key = ?", victims)
            self._cache_total = total  # reset to None by the writer if this transaction fails

        self._submit(write)

    def cache_stats(self) -> tuple[int, int]:
        """(entries, total bytes) of the synthesis cache."""
        count, total = self._read().execute("SELECT count(*), total(size) FROM synth_cache").fetchone()
        return count, int(total)

    def cache_clear(self) -> None:
        """Empty the synthesis cache."""

        def write(db: Database) -> None:
            db.execute("DELETE FROM synth_cache")
            self._cache_total = 0

        self._submit(write)

    # health

    def integrity_check(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks; [] when healthy."""
        db = self._read()
        problems = [r[0] for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check"):
            problems.append(f"{table} row {rowid}: no matching row in {parent}")
        return problems

    # internals: reads

    def write(self, fn: Callable[[Database], T]) -> T:
        """Run `fn(db)` as one transaction on the writer thread (for hub modules with tables of their own)."""
        return self._submit(fn)

    def reader(self) -> Database:
        """This thread's read-only connection."""
        return self._read()

    def _read(self) -> Database:
        db: Database | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        with self._lock:
            if self._closed:
                raise RuntimeError("the voice library is closed")
            # check_same_thread=False only so close() can close it from another thread; each
            # connection is still used by the one thread that created it.
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, check_same_thread=False)
            self._readers.append(conn)
        conn.execute("PRAGMA query_only = ON")  # enforce: writes go through the writer only
        db = Database(conn)
        self._local.db = db
        return db

    # internals: the writer

    def _write_loop(self, ready: Future[None]) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout)  # busy timeout, in seconds
            db = Database(conn)
            # Only takes effect while the file is new. SQLite's own blob study finds 8-16 KiB pages
            # fastest for large blobs: a 200 KB cached clip spans 13 pages instead of 50.
            db.execute("PRAGMA page_size = 16384")
            db.enable_wal()  # persistent: readers never block the writer nor it them
            # NORMAL in WAL mode fsyncs at checkpoints, not every commit: still never corrupt and
            # crash-safe for process death (kill -9), but a power cut may lose the last commits -
            # a fine trade for a cache that writes on every synthesis.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")  # per connection; needed for the prompts cascade
            db.execute("PRAGMA journal_size_limit = 67108864")  # truncate a big WAL after checkpoint
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            while (job := self._queue.get()) is not _STOP:
                assert isinstance(job, _Job)
                self._run_job(db, job)
            db.execute("PRAGMA optimize")
        finally:
            conn.close()

    def _run_job(self, db: Database, job: _Job) -> None:
        if job.future is not None and not job.future.set_running_or_notify_cancel():
            return
        try:
            if job.transactional:
                with _transaction(db):
                    result = job.fn(db)
            else:
                result = job.fn(db)
        except BaseException as exc:
            self._cache_total = None  # the rolled-back job may have changed it: recount next time
            if job.future is None:
                if _is_storage_problem(exc):  # e.g. cache-hit stamps on a full disk: say it once, briefly
                    if not self._storage_warned:
                        self._storage_warned = True
                        log.warning("%s", storage_error(self.path, exc).message)
                else:
                    log.exception("voice library background write failed")
            else:
                job.future.set_exception(exc)
            return
        if job.future is not None:
            job.future.set_result(result)

    def _enqueue(
        self, fn: Callable[[Database], Any], future: Future[Any] | None, transactional: bool
    ) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._queue.put(_Job(fn, future, transactional))
            return True

    def _submit(self, fn: Callable[[Database], T], *, transactional: bool = True) -> T:
        """Run `fn` on the writer thread (in one transaction) and return its result or raise its error."""
        if threading.current_thread() is self._writer:
            raise RuntimeError("library writes cannot be nested inside a library write")
        future: Future[T] = Future()
        if not self._enqueue(fn, future, transactional):
            raise RuntimeError("the voice library is closed")
        try:
            return future.result()
        except (sqlite3.Error, OSError) as exc:
            if _is_storage_problem(exc):
                raise storage_error(self.path, exc) from None
            raise

    def _stamp(self) -> float:
        # Strictly increasing within the process, so LRU order is call order even when two calls
        # land on the same clock tick.
        with self._stamp_lock:
            self._last_stamp = max(time.time(), self._last_stamp + 1e-6)
            return self._last_stamp

    def _touch(self, key: str) -> None:
        # Batch hit stamps: the first pending hit queues one job that writes all pending ones.
        stamp = self._stamp()
        with self._touch_lock:
            first = not self._touches
            self._touches[key] = stamp
        if first:
            self._enqueue(self._write_touches, None, True)

    def _write_touches(self, db: Database) -> None:
        with self._touch_lock:
            touches, self._touches = self._touches, {}
        db.conn.executemany(
            "UPDATE synth_cache SET last_used = max(last_used, ?) WHERE key = ?",
            [(stamp, key) for key, stamp in touches.items()],
        )

    def _cache_size(self, db: Database) -> int:
        # A running total beats SUM(size) over the table on every put; it is recounted when a
        # write failed or another connection (another process) changed the file.
        version = db.execute("PRAGMA data_version").fetchone()[0]
        if self._cache_total is None or version != self._data_version:
            self._cache_total = int(db.execute("SELECT total(size) FROM synth_cache").fetchone()[0])
            self._data_version = version
        return self._cache_total
