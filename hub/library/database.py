"""The voice library's SQLite file: one writer thread, per-thread readers, opening, migrating and closing.

Concurrency model: every write goes through one writer thread that owns the only write connection
(fed by a queue; each write is one transaction, so a crash never leaves half a voice behind). Reads
use one connection per thread and, thanks to WAL, never wait for the writer. The tables' own methods
(hub.library.voices, .users, .cache) build on this class.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar

from hub.library.schema import Database, run_migrations, transaction
from hub.library.storage import is_storage_problem, storage_error

log = logging.getLogger("hub.library")

T = TypeVar("T")


class _Job(NamedTuple):
    fn: Callable[[Database], Any]
    future: Future[Any] | None  # None: fire and forget (errors are logged)
    transactional: bool


_STOP = object()


class LibraryDatabase:
    """The library file and its one writer. Thread-safe."""

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
        self._storage_warned = False

    # lifecycle

    @classmethod
    def open(cls, path: Path, *, busy_timeout: float = 5.0) -> Self:
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
            library._submit(run_migrations, transactional=False)
        except BaseException as exc:
            library.close()
            if is_storage_problem(exc):
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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def flush(self) -> None:
        """Wait until every write queued so far (cache-hit stamps included) is committed."""
        self._submit(lambda db: None, transactional=False)

    # health

    def integrity_check(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks; [] when healthy."""
        db = self._read()
        problems = [r[0] for r in db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        for table, rowid, parent, _ in db.execute("PRAGMA foreign_key_check"):
            problems.append(f"{table} row {rowid}: no matching row in {parent}")
        return problems

    def _write_failed(self) -> None:
        """Called on the writer thread when a write failed and was rolled back (state kept for it is stale)."""

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
                with transaction(db):
                    result = job.fn(db)
            else:
                result = job.fn(db)
        except BaseException as exc:
            self._write_failed()
            if job.future is None:
                if is_storage_problem(exc):  # e.g. cache-hit stamps on a full disk: say it once, briefly
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
            if is_storage_problem(exc):
                raise storage_error(self.path, exc) from None
            raise
