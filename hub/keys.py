"""API keys: the ones in `http.api_keys` (admin) and those `voxhub keys create` stores, hashed, in the library.

A key is 32 random bytes, so an unsalted SHA-256 is enough to store it: nothing about it can be guessed
from the hash. Keys are looked up in the library on every request, so a key created or revoked by the CLI
takes effect in a running daemon at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time

from hub.library import VoiceLibrary

SCOPES = ("speak", "admin")
"""speak: speech, models, voices (read), quality checks. admin: everything, enrolling and removing voices too."""
PREFIX = "vxh_"
_PRESENCE_TTL_S = 1.0
_TOUCH_EVERY_S = 60.0


def new_key() -> str:
    """A fresh random key (shown once; only its hash is stored)."""
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Answers "which scope does this key have?" from the config keys and the library."""

    def __init__(self, library: VoiceLibrary, config_keys: tuple[str, ...]) -> None:
        self.library = library
        self._config = [key.encode() for key in config_keys]
        self._present: tuple[float, bool] = (0.0, False)
        self._touched: dict[str, float] = {}

    async def any_keys(self) -> bool:
        """Whether any key exists (then every request needs one).

        "Yes" is remembered for a second (erring towards asking for a key); "no" is asked again every time,
        so a key just created is enforced from the next request on."""
        if self._config:
            return True
        checked, present = self._present
        if present and time.monotonic() - checked <= _PRESENCE_TTL_S:
            return True
        present = await asyncio.to_thread(self.library.has_api_keys)
        self._present = (time.monotonic(), present)
        return present

    async def scope(self, key: str) -> str | None:
        """The scope of `key`, or None when it is no key at all (or a revoked one)."""
        token = key.encode()
        # Every config key is compared (constant time each), so timing tells nothing about which matched.
        if sum(hmac.compare_digest(token, known) for known in self._config):
            return "admin"
        found = await asyncio.to_thread(self.library.api_key_scope, digest(key))
        if found is None:
            return None
        name, scope = found
        now = time.monotonic()
        if now - self._touched.get(name, -_TOUCH_EVERY_S) >= _TOUCH_EVERY_S:
            self._touched[name] = now
            self.library.touch_api_key(name)
        return scope
