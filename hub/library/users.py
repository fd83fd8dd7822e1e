"""Who uses the hub, in the library: chat users' chosen voices and API keys (hashes only)."""

from __future__ import annotations

import time
from typing import Any

from hub.errors import InvalidRequest
from hub.library.database import LibraryDatabase
from hub.library.schema import Database


class UserTables(LibraryDatabase):
    """Chat users' voices (user_voices) and API keys (api_keys)."""

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
