"""The voice library: enrolled voices, engine prompts, the synthesis cache, chat users' voices and API keys,
in one SQLite file (long-form jobs keep their tables there too, through hub.jobs.store).

Modules: `database` (the file, its writer thread and readers), `schema` (tables and migrations), `records`
(stored values), `storage` (disk errors), and one per group of tables: `voices`, `users`, `cache`.
"""

from __future__ import annotations

from hub.library.cache import SynthCache
from hub.library.records import VoiceRecord
from hub.library.users import UserTables
from hub.library.voices import VoiceTables

__all__ = ["VoiceLibrary", "VoiceRecord"]


class VoiceLibrary(VoiceTables, UserTables, SynthCache):
    """Voices, prompts, the synthesis cache, chat users' voices and API keys in one SQLite file. Thread-safe."""
