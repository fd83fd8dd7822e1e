"""Listing voices costs one library query however many voices there are (issue 16, part 6).

Counting the SQL statements a listing runs is deterministic, unlike timing it; the timings live in
bench/library_bench.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from wyoming.info import Attribution, TtsVoice, TtsVoiceSpeaker

from adapters.wyoming import WyomingSettings
from adapters.wyoming.describe import voice_dict
from adapters.wyoming.server import WyomingConnection
from hub.api import Hub, VoiceInfo, parse_section
from hub.library import VoiceRecord
from hub.settings import load_settings
from tests.conftest import FAKE_ONLY


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    env = {**FAKE_ONLY, "VOXHUB_DATA_DIR": str(tmp_path)}
    async with Hub.open(load_settings(env=env)) as opened:
        yield opened


def _add(hub: Hub, first: int, count: int) -> None:
    for i in range(first, first + count):
        clip = b"\0\0\0\0" * 48000  # a 2 s reference: big enough to need overflow pages
        hub.library.add_voice(VoiceRecord(f"voice{i:04d}", language="de", reference=clip, reference_rate=24000,
                                          embedding=b"\1" * 1024, quality={"snr_db": 30.0}))  # fmt: skip


def _statements(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement the library's read connections run from now on."""
    seen: list[str] = []
    read = hub.library._read

    def traced():  # type: ignore[no-untyped-def]
        db = read()
        db.conn.set_trace_callback(seen.append)
        return db

    monkeypatch.setattr(hub.library, "_read", traced)
    return seen


def _selects(statements: list[str]) -> int:
    return sum(s.lstrip().upper().startswith("SELECT") for s in statements)  # not sqlite-utils' SAVEPOINTs


async def test_listing_is_one_query_at_any_library_size(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    wyoming = WyomingConnection(hub, parse_section(WyomingSettings, "adapters.wyoming", {}), None, None)  # type: ignore[arg-type]
    seen = _statements(hub, monkeypatch)
    counts = {}
    for size in (3, 60):
        _add(hub, len(hub.library.voice_names()), size - len(hub.library.voice_names()))
        seen.clear()
        voices = await hub.list_voices()
        listing = _selects(seen)
        seen.clear()
        described = await wyoming.info()
        counts[size] = (listing, _selects(seen))
        assert sum(v.kind == "cloned" for v in voices) == size
        assert described.data["tts"][0]["voices"][-1]["name"] == f"voice{size - 1:04d}"
    assert counts[3] == counts[60] == (1, 1), counts  # one SELECT each, no per-voice lookups


def test_listing_reads_no_reference_clips(hub: Hub) -> None:
    _add(hub, 0, 2)
    listed = hub.library.list_voices()
    assert [v.reference for v in listed] == [b"", b""]
    full = hub.library.get_voice("voice0001")
    assert full is not None and len(full.reference) == 4 * 48000 and full.language == "de"
    # The rows a listing reads stay small: columns behind a clip sit on its overflow pages, so a listing
    # that skipped the clip still walked it (451 ms at 1000 voices before the clips moved out).
    conn = hub.library._read().conn
    widest = "SELECT max(length(name) + length(reference) + length(embedding) + length(quality)) FROM voices"
    assert conn.execute(widest).fetchone()[0] < 4096
    assert hub.library.delete_voice("voice0001")
    assert conn.execute("SELECT count(*) FROM voice_clips").fetchone()[0] == 1  # the clip went with it


def test_wyoming_voice_dict_is_what_the_wyoming_library_renders() -> None:
    preset = VoiceInfo("joe", "piper", ("en_US",), "Joe", "preset", ("a", "b"), 22050, "rhasspy")
    cloned = VoiceInfo("mum", "zipvoice", ("en",), "", "cloned")
    for voice in (preset, cloned):
        typed = TtsVoice(
            name=voice.name,
            attribution=Attribution(name=voice.attribution or voice.engine, url=""),
            installed=True,
            description=voice.description or f"{voice.name} ({voice.kind}, {voice.engine})",
            version=None,
            languages=["en", "en_US"] if voice is cloned else ["en_US"],
            speakers=[TtsVoiceSpeaker(name=s) for s in voice.speakers] or None,
        )
        assert voice_dict(voice, ["en_US"]) == typed.to_dict()
