"""The voice library's files are readable by their owner only (voices are biometric data)."""

from __future__ import annotations

import stat
from pathlib import Path

from hub.library import VoiceLibrary


def test_new_library_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "voxhub.db"
    with VoiceLibrary.open(path) as library:
        library.add_api_key("k", "0" * 64, "speak")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert modes["voxhub.db"] == 0o600, modes
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes
