"""The voice library: migrations, voices, prompts, the LRU synthesis cache, concurrency and crash safety."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import hub.library.schema as schema
from engines.core.interface import VoiceInfo
from hub.errors import BadAudio, InvalidVoiceName, VoiceExists, VoiceNotFound
from hub.library import VoiceLibrary, VoiceRecord
from hub.library.records import CachedAudio
from hub.library.schema import Migration
from hub.rules import check_voice_name as validate_voice_name

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "library.db"


@pytest.fixture
def lib(db_path: Path) -> Iterator[VoiceLibrary]:
    with VoiceLibrary.open(db_path) as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection, to look at the file behind the library's back."""
    return sqlite3.connect(path)


def voice(name: str, samples: int = 1000, **kw: object) -> VoiceRecord:
    fields: dict = {"language": "en-us", "transcript": "hello there", "reference_rate": 24000}
    fields.update(kw)
    return VoiceRecord(name, reference=bytes([len(name)]) * (4 * samples), **fields)


# --- migrations and connection settings ---------------------------------------------------------


def test_migrations_run_once_recorded_and_new_ones_run_on_reopen(db_path: Path, monkeypatch) -> None:
    with VoiceLibrary.open(db_path):
        pass
    with raw(db_path) as conn:
        first = conn.execute("SELECT id, name, applied_at FROM _migrations").fetchall()
    shipped = [(m.id, m.name) for m in schema.MIGRATIONS]
    assert [(i, n) for i, n, _ in first] == shipped

    calls: list[int] = []

    def counting(db) -> None:
        calls.append(1)
        schema._m1_initial(db)

    def add_gender(db) -> None:
        calls.append(2)
        db.table("voices").add_column("gender", str)

    known = schema.MIGRATIONS[1:]
    monkeypatch.setattr(schema, "MIGRATIONS", [Migration(1, "initial", counting), *known])
    with VoiceLibrary.open(db_path):
        pass
    assert calls == []  # migration 1 is recorded: not run again

    monkeypatch.setattr(
        schema,
        "MIGRATIONS",
        [Migration(1, "initial", counting), *known, Migration(99, "gender", add_gender)],
    )
    with VoiceLibrary.open(db_path):
        pass
    with VoiceLibrary.open(db_path):
        pass
    assert calls == [2]  # only the new one, only once
    with raw(db_path) as conn:
        rows = conn.execute("SELECT id, name, applied_at FROM _migrations ORDER BY id").fetchall()
        columns = [r[1] for r in conn.execute("PRAGMA table_info(voices)")]
    assert rows[0] == first[0]
    assert [(i, n) for i, n, _ in rows] == [*shipped, (99, "gender")]
    assert "gender" in columns


def test_user_voices_are_remembered_per_platform_and_forgotten(db_path: Path) -> None:
    with VoiceLibrary.open(db_path) as lib:
        assert lib.get_user_voice("discord", "42") is None
        lib.set_user_voice("discord", "42", "mum")
        lib.set_user_voice("slack", "42", "dad")
        lib.set_user_voice("discord", "42", "gran")  # a second choice replaces the first
    with VoiceLibrary.open(db_path) as lib:  # kept across restarts
        assert lib.get_user_voice("discord", "42") == "gran"
        assert lib.get_user_voice("slack", "42") == "dad"
        assert lib.get_user_voice("discord", "7") is None
        lib.set_user_voice("discord", "42", None)
        assert lib.get_user_voice("discord", "42") is None
        assert lib.get_user_voice("slack", "42") == "dad"


def test_failed_migration_rolls_back_alone(db_path: Path, monkeypatch) -> None:
    with VoiceLibrary.open(db_path) as lib:
        lib.add_voice(voice("keep"))

    def broken(db) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("boom")

    shipped = schema.MIGRATIONS
    monkeypatch.setattr(schema, "MIGRATIONS", [*shipped, Migration(99, "broken", broken)])
    with pytest.raises(RuntimeError, match="boom"):
        VoiceLibrary.open(db_path)
    with raw(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert conn.execute("SELECT max(id) FROM _migrations").fetchone()[0] == shipped[-1].id
    assert "half_done" not in tables
    monkeypatch.setattr(schema, "MIGRATIONS", shipped)
    with VoiceLibrary.open(db_path) as lib:
        assert lib.voice_names() == ["keep"]


def test_wal_and_connection_pragmas(lib: VoiceLibrary, db_path: Path) -> None:
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 16384
    writer = lib._submit(
        lambda db: [
            db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("synchronous", "foreign_keys", "busy_timeout")
        ],
        transactional=False,
    )
    assert writer[0] == 1  # NORMAL
    assert writer[1] == 1
    assert writer[2] >= 1000
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        lib._read().execute("DELETE FROM voices")  # reads cannot write behind the writer's back


# --- voices --------------------------------------------------------------------------------------


def test_voice_round_trip(lib: VoiceLibrary) -> None:
    record = voice(
        "joe.v2",
        samples=12345,
        engine="chatterbox",
        embedding=bytes(range(256)),
        quality={"snr_db": 31.5, "issues": ["clipping"]},
        metadata={"description": "Joe, calm", "source": {"file": "joe.wav"}},
    )
    stored = lib.add_voice(record)
    assert stored.created_at > 0 and stored.updated_at == stored.created_at
    lib.add_voice(voice("anna", samples=10))

    got = lib.get_voice("joe.v2")
    assert got == stored
    assert got is not None
    assert got.reference == record.reference and len(got.reference) == 4 * 12345
    assert got.embedding == bytes(range(256))
    assert got.quality == {"snr_db": 31.5, "issues": ["clipping"]}
    assert got.metadata == {"description": "Joe, calm", "source": {"file": "joe.wav"}}
    assert (got.language, got.transcript, got.reference_rate, got.engine) == (
        "en-us",
        "hello there",
        24000,
        "chatterbox",
    )
    assert "\\x" not in repr(got)  # blobs stay out of logs

    listed = lib.list_voices()
    assert [v.name for v in listed] == ["anna", "joe.v2"] == lib.voice_names()
    assert listed[1].reference == b""  # documented: list_voices does not load clips
    assert listed[1].metadata == got.metadata and listed[1].quality == got.quality
    assert listed[0].quality is None and listed[0].engine is None

    assert lib.delete_voice("joe.v2") is True
    assert lib.delete_voice("joe.v2") is False
    assert lib.get_voice("joe.v2") is None
    assert lib.voice_names() == ["anna"]


def test_to_info() -> None:
    info = voice("joe", engine="f5", metadata={"description": "Joe"}).to_info()
    assert info == VoiceInfo(name="joe", engine="f5", languages=("en-us",), description="Joe", kind="cloned")
    plain = VoiceRecord("amy").to_info(default_engine="chatterbox")
    assert (plain.engine, plain.languages, plain.description, plain.kind) == (
        "chatterbox",
        (),
        "cloned voice",
        "cloned",
    )


def test_voice_exists_and_replace(lib: VoiceLibrary) -> None:
    first = lib.add_voice(voice("joe", samples=10, transcript="one"))
    lib.put_prompt("joe", "f5", "1.0", b"prompt-from-old-clip")
    with pytest.raises(VoiceExists, match="joe"):
        lib.add_voice(voice("joe", samples=20, transcript="two"))
    kept = lib.get_voice("joe")
    assert kept is not None and kept.transcript == "one" and len(kept.reference) == 40
    assert lib.get_prompt("joe", "f5", "1.0") == b"prompt-from-old-clip"

    time.sleep(0.01)
    second = lib.add_voice(voice("joe", samples=20, transcript="two"), replace=True)
    got = lib.get_voice("joe")
    assert got is not None and got.transcript == "two" and len(got.reference) == 80
    assert got.created_at == first.created_at and got.updated_at == second.updated_at > first.updated_at
    assert lib.get_prompt("joe", "f5", "1.0") is None  # derived from the replaced clip
    assert lib.voice_names() == ["joe"]


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 65,
        "../x",
        "a/b",
        "a\\b",
        ".hidden",
        "-dash",
        "has space",
        "a..b",
        "tab\t",
        "end\n",
        "ü-umlaut",
        None,
    ],
)
def test_invalid_names_rejected_and_nothing_stored(lib: VoiceLibrary, name: object) -> None:
    with pytest.raises(InvalidVoiceName, match="1-64 characters") as excinfo:
        lib.add_voice(VoiceRecord(name, reference=b"\0" * 8, reference_rate=16000))  # type: ignore[arg-type]
    assert excinfo.value.param == "name"
    assert lib.voice_names() == []
    with raw(lib.path) as conn:
        assert conn.execute("SELECT count(*) FROM voices").fetchone()[0] == 0


@pytest.mark.parametrize("name", ["a", "7", "x" * 64, "en_US-joe.v2", "Joe_1"])
def test_valid_names(name: str) -> None:
    assert validate_voice_name(name) == name


def test_bad_reference_rejected(lib: VoiceLibrary) -> None:
    with pytest.raises(BadAudio):
        lib.add_voice(VoiceRecord("odd", reference=b"\0" * 6, reference_rate=16000))
    with pytest.raises(BadAudio):
        lib.add_voice(VoiceRecord("norate", reference=b"\0" * 8))
    assert lib.voice_names() == []


# --- prompts -------------------------------------------------------------------------------------


def test_prompt_cache_keyed_by_engine_version(lib: VoiceLibrary) -> None:
    lib.add_voice(voice("joe"))
    lib.put_prompt("joe", "f5", "1.0", b"v1")
    lib.put_prompt("joe", "f5", "1.1", b"v1.1")
    lib.put_prompt("joe", "chatterbox", "1.0", b"cb")
    assert lib.get_prompt("joe", "f5", "1.0") == b"v1"
    assert lib.get_prompt("joe", "f5", "1.1") == b"v1.1"
    assert lib.get_prompt("joe", "chatterbox", "1.0") == b"cb"
    assert lib.get_prompt("joe", "f5", "2.0") is None
    lib.put_prompt("joe", "f5", "1.0", b"v1-again")
    assert lib.get_prompt("joe", "f5", "1.0") == b"v1-again"
    with pytest.raises(VoiceNotFound):
        lib.put_prompt("nobody", "f5", "1.0", b"x")


def test_delete_cascades_prompts(lib: VoiceLibrary) -> None:
    lib.add_voice(voice("joe"))
    lib.add_voice(voice("amy"))
    lib.put_prompt("joe", "f5", "1.0", b"p1")
    lib.put_prompt("joe", "cb", "2.0", b"p2")
    lib.put_prompt("amy", "f5", "1.0", b"p3")
    assert lib.delete_voice("joe")
    lib.add_voice(voice("joe"))  # a new voice of the same name starts with no prompts
    assert lib.get_prompt("joe", "f5", "1.0") is None and lib.get_prompt("joe", "cb", "2.0") is None
    assert lib.get_prompt("amy", "f5", "1.0") == b"p3"
    with raw(lib.path) as conn:
        assert conn.execute("SELECT voice FROM prompts").fetchall() == [("amy",)]
    assert lib.integrity_check() == []


# --- synthesis cache -----------------------------------------------------------------------------


def cache_keys(path: Path) -> set[str]:
    with raw(path) as conn:
        return {r[0] for r in conn.execute("SELECT key FROM synth_cache")}


def test_cache_lru_evicts_least_recently_used_and_survives_reopen(db_path: Path) -> None:
    bound = 3000
    with VoiceLibrary.open(db_path) as lib:
        for key in "abc":
            lib.cache_put(key, 24000, 2, 1, key.encode() * 1000, max_bytes=bound)
        hit = lib.cache_get("a")  # refreshes a: b is now the least recently used
        assert hit == CachedAudio(24000, 2, 1, b"a" * 1000)
        assert lib.cache_get("missing") is None
        lib.cache_put("d", 22050, 2, 2, b"d" * 1000, max_bytes=bound)
        assert cache_keys(db_path) == {"a", "c", "d"}
        assert lib.cache_stats() == (3, 3000)
        assert lib.cache_get("b") is None
    with VoiceLibrary.open(db_path) as lib:
        assert lib.cache_stats() == (3, 3000)
        assert lib.cache_get("d") == CachedAudio(22050, 2, 2, b"d" * 1000)
        lib.cache_put("e", 24000, 2, 1, b"e" * 1000, max_bytes=bound)  # c is now the oldest
        assert cache_keys(db_path) == {"a", "d", "e"}
        lib.cache_put("f", 24000, 2, 1, b"f" * 1000, max_bytes=bound)  # then a (d was hit)
        assert cache_keys(db_path) == {"d", "e", "f"}
        assert lib.cache_stats() == (3, 3000)


def test_cache_total_stays_within_bound(lib: VoiceLibrary) -> None:
    bound = 5000
    for i in range(60):
        size = 100 + (i * 397) % 1400
        lib.cache_put(f"k{i % 17}", 24000, 2, 1, b"x" * size, max_bytes=bound)  # replaces, too
        if i % 3 == 0:
            lib.cache_get(f"k{(i * 7) % 17}")
        _, total = lib.cache_stats()
        assert total <= bound
        with raw(lib.path) as conn:
            assert conn.execute("SELECT sum(length(audio)) FROM synth_cache").fetchone()[0] == total
    lib.cache_put("k1", 24000, 2, 1, b"y" * 10, max_bytes=bound)
    lib.cache_put("k1", 24000, 2, 1, b"z" * 20, max_bytes=bound)  # a replaced entry counts once
    assert lib.cache_get("k1") == CachedAudio(24000, 2, 1, b"z" * 20)
    assert lib.cache_stats()[1] <= bound


def test_cache_zero_bound_oversize_and_clear(lib: VoiceLibrary) -> None:
    lib.cache_put("a", 24000, 2, 1, b"a" * 100, max_bytes=1000)
    lib.cache_put("big", 24000, 2, 1, b"b" * 1001, max_bytes=1000)  # can never fit
    assert lib.cache_get("big") is None and lib.cache_stats() == (1, 100)
    lib.cache_put("a", 24000, 2, 1, b"a" * 2000, max_bytes=1000)  # an oversize replacement drops the old
    assert lib.cache_get("a") is None and lib.cache_stats() == (0, 0)
    lib.cache_put("c", 24000, 2, 1, b"c" * 100, max_bytes=1000)
    lib.cache_put("d", 24000, 2, 1, b"d" * 10, max_bytes=0)  # 0: store nothing, keep nothing
    assert lib.cache_stats() == (0, 0)
    lib.cache_put("e", 24000, 2, 1, b"e" * 10, max_bytes=1000)
    lib.cache_clear()
    assert lib.cache_stats() == (0, 0)
    lib.cache_put("f", 24000, 2, 1, b"f" * 600, max_bytes=1000)
    lib.cache_put("g", 24000, 2, 1, b"g" * 400, max_bytes=1000)  # the running total restarted at 0
    assert lib.cache_stats() == (2, 1000)


def test_cache_get_does_not_wait_for_the_writer(lib: VoiceLibrary) -> None:
    lib.cache_put("a", 24000, 2, 1, b"a" * 100, max_bytes=10_000)
    before = lib._read().execute("SELECT last_used FROM synth_cache").fetchone()[0]
    release = threading.Event()
    lib._enqueue(lambda db: release.wait(10), None, False)  # the writer is now stuck
    try:
        started = time.perf_counter()
        assert lib.cache_get("a") is not None
        assert time.perf_counter() - started < 1.0
    finally:
        release.set()
    lib.flush()
    after = lib._read().execute("SELECT last_used FROM synth_cache").fetchone()[0]
    assert after > before  # the hit was recorded once the writer got to it


# --- writer semantics ----------------------------------------------------------------------------


def test_failed_write_rolls_back_and_writer_goes_on(lib: VoiceLibrary) -> None:
    def half(db) -> None:
        db.execute(
            "INSERT INTO synth_cache (key, rate, width, channels, audio, size, last_used)"
            " VALUES ('x', 1, 2, 1, x'00', 1, 0)"
        )
        raise ValueError("midway")

    with pytest.raises(ValueError, match="midway"):
        lib._submit(half)
    assert lib.cache_stats() == (0, 0)
    lib.add_voice(voice("after"))
    assert lib.voice_names() == ["after"]

    lib.cache_put("a", 24000, 2, 1, b"a" * 600, max_bytes=1000)

    def fails_after_cache_change(db) -> None:
        db.execute("DELETE FROM synth_cache")
        lib._cache_total = 0  # what a cache write does just before its commit fails
        raise ValueError("commit failed")

    with pytest.raises(ValueError, match="commit failed"):
        lib._submit(fails_after_cache_change)
    lib.cache_put("b", 24000, 2, 1, b"b" * 600, max_bytes=1000)  # must count a's 600 bytes again
    assert cache_keys(lib.path) == {"b"}


def test_cache_total_follows_other_processes(lib: VoiceLibrary) -> None:
    lib.cache_put("a", 24000, 2, 1, b"a" * 600, max_bytes=1000)
    with raw(lib.path) as conn:  # e.g. `voxhub cache clear` run while the daemon is up
        conn.execute("DELETE FROM synth_cache")
    lib.cache_put("b", 24000, 2, 1, b"b" * 600, max_bytes=1000)
    assert lib.cache_stats() == (1, 600)


def test_closed_library_refuses(db_path: Path) -> None:
    lib = VoiceLibrary.open(db_path)
    lib.close()
    lib.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        lib.add_voice(voice("late"))
    with pytest.raises(RuntimeError, match="closed"):
        lib.get_voice("late")


def test_integrity_check_reports_problems(lib: VoiceLibrary) -> None:
    assert lib.integrity_check() == []
    with raw(lib.path) as conn:  # foreign keys are off on a plain connection
        conn.execute(
            "INSERT INTO prompts (voice, engine, engine_version, prompt) VALUES ('ghost', 'f5', '1', x'00')"
        )
    problems = lib.integrity_check()
    assert len(problems) == 1 and "prompts" in problems[0] and "voices" in problems[0]


def test_concurrent_writers_and_readers(lib: VoiceLibrary) -> None:
    errors: list[BaseException] = []
    done = threading.Event()
    reads = [0]

    def writer(t: int) -> None:
        try:
            for i in range(25):
                lib.add_voice(make(f"w{t}-{i}", samples=50 + i))
                lib.put_prompt(f"w{t}-{i}", "f5", "1", b"p" * i)
                lib.cache_put(f"c{t}-{i}", 24000, 2, 1, b"c" * 500, max_bytes=20_000)
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while not done.is_set():
                for record in lib.list_voices()[-3:]:  # a few, so readers don't starve the writers
                    full = lib.get_voice(record.name)
                    assert full is not None and len(full.reference) == 4 * full.reference_rate // 480
                lib.cache_get("c0-0")
                assert lib.cache_stats()[1] <= 20_000
                reads[0] += 1
        except BaseException as exc:
            errors.append(exc)

    def make(name: str, samples: int) -> VoiceRecord:  # reference length derivable from the rate
        return VoiceRecord(name, reference=b"\1" * (4 * samples), reference_rate=samples * 480)

    writers = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join(30)
    done.set()
    for thread in readers:
        thread.join(30)
    assert errors == []
    assert reads[0] > 0
    names = lib.voice_names()
    assert len(names) == 200 and set(names) == {f"w{t}-{i}" for t in range(8) for i in range(25)}
    assert all(lib.get_prompt(f"w{t}-{i}", "f5", "1") == b"p" * i for t in range(8) for i in range(25))
    assert lib.cache_stats() == (40, 20_000)
    assert lib.integrity_check() == []


# --- crash safety --------------------------------------------------------------------------------

CHILD = """
import random, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from hub.library import VoiceLibrary, VoiceRecord
lib = VoiceLibrary.open(Path(sys.argv[2]))
rng = random.Random(7)
i = 0
while True:
    samples = rng.randrange(1, 150_000)
    meta = {"samples": samples, "i": i, "pad": "x" * rng.randrange(20_000)}
    lib.add_voice(VoiceRecord(f"v{i}", reference=bytes([i % 251]) * (4 * samples), reference_rate=24000,
                              quality={"i": i}, metadata=meta, embedding=bytes([i % 251]) * 1024))
    lib.put_prompt(f"v{i}", "f5", "1", bytes([i % 251]) * samples)
    lib.cache_put(f"c{i}", 24000, 2, 1, b"c" * rng.randrange(1, 300_000), max_bytes=2_000_000)
    print(i, flush=True)
    i += 1
"""


def test_kill_9_mid_write_leaves_only_complete_voices(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO), str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged = -1
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 15
        while acknowledged < 15 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged = int(line)
        time.sleep(0.003)  # let it get into the next write
    finally:
        os.kill(child.pid, signal.SIGKILL)
        _, stderr = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert acknowledged >= 15, stderr

    with raw(db_path) as conn:  # the stored JSON itself parses, row by row
        for metadata, quality in conn.execute("SELECT metadata, quality FROM voices"):
            assert json.loads(quality)["i"] == json.loads(metadata)["i"]
    with VoiceLibrary.open(db_path) as lib:
        assert lib.integrity_check() == []
        names = lib.voice_names()
        assert {f"v{i}" for i in range(acknowledged + 1)} <= set(names)  # every committed write survived
        for name in names:
            record = lib.get_voice(name)
            assert record is not None
            i = record.metadata["i"]
            assert name == f"v{i}" and record.quality == {"i": i}
            assert record.reference == bytes([i % 251]) * (4 * record.metadata["samples"])
            assert record.embedding == bytes([i % 251]) * 1024
        _, total = lib.cache_stats()
        assert total <= 2_000_000
