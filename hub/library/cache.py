"""The synthesis cache in the library: audio by request key, least-recently-used entries evicted by size."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from hub.library.database import LibraryDatabase
from hub.library.records import CachedAudio
from hub.library.schema import Database


class SynthCache(LibraryDatabase):
    """Cached synthesis results (table synth_cache), bounded by bytes."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        super().__init__(path, busy_timeout=busy_timeout)
        self._touches: dict[str, float] = {}  # cache hits not yet written: key -> last_used
        self._touch_lock = threading.Lock()
        self._last_stamp = 0.0
        self._stamp_lock = threading.Lock()
        # Writer-thread state: running total of synth_cache sizes (None = recount) and the
        # data_version it was counted at (another process writing the file changes it).
        self._cache_total: int | None = None
        self._data_version = -1

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

    def _write_failed(self) -> None:
        self._cache_total = None  # the rolled-back job may have changed it: recount next time

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
