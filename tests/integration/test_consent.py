"""Consent is recorded once for every cloning engine: enrollment without the enroller's confirmation is
refused (saying why and how), and the library keeps who confirmed it, where and when, with the voice."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from hub.library import VoiceLibrary, VoiceRecord
from hub.library.schema import MIGRATIONS
from tests.conftest import FAKE_ONLY, REPO, Daemon
from tests.integration.test_http_guard import cloned, multipart, raw, tone_wav
from tests.integration.test_http_openai import get_json, post


def test_http_enrollment_needs_consent_and_records_it(daemon_factory: object) -> None:
    daemon: Daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    body, ctype = multipart({"name": "mum", "consent": "false"}, tone_wav())
    status, _, reply = raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})
    error = json.loads(reply)["error"]
    assert (status, error["code"], error["param"]) == (400, "consent_required", "consent")
    assert "needs its owner's permission" in error["message"] and "--consent" in error["message"]
    assert '"consent": true' in error["message"] and "enroll NAME consent" in error["message"]
    assert cloned(daemon) == set()  # nothing stored

    payload = {"name": "mum", "audio_b64": base64.b64encode(tone_wav()).decode(), "consent": True}
    before = time.time()
    status, _, reply = post(daemon, "/v1/voices", json.dumps(payload).encode())
    assert status == 201, reply
    consent = get_json(daemon, "/v1/voices/mum")["consent"]
    assert consent["confirmed"] is True and consent["surface"] == "http" and consent["user"] == "127.0.0.1"
    assert before - 1 <= consent["at"] <= time.time() + 1
    assert "consented" in consent["statement"]


def test_the_cli_needs_consent_and_voices_show_lists_it(tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    clip.write_bytes(tone_wav())
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env.update(FAKE_ONLY, VOXHUB_DATA_DIR=str(tmp_path / "data"))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    refused = cli("voices", "add", "dad", str(clip))
    assert refused.returncode == 1 and "--consent" in refused.stderr and "permission" in refused.stderr
    assert cli("voices", "add", "dad", str(clip), "--consent").returncode == 0
    shown = json.loads(cli("voices", "show", "dad").stdout)
    assert shown["consent"]["surface"] == "cli" and shown["consent"]["confirmed"] is True


def test_voices_enrolled_before_consent_was_recorded_keep_working(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "voxhub.db"
    monkeypatch.setattr("hub.library.schema.MIGRATIONS", MIGRATIONS[:3])  # a library from before migration 4
    with VoiceLibrary.open(path):
        pass
    with sqlite3.connect(path) as db:  # a voice as the old code stored it: no consent column
        db.execute("INSERT INTO voices (name, reference, reference_rate, created_at, updated_at) "
                   "VALUES ('gran', zeroblob(400), 24000, 1, 1)")  # fmt: skip
    monkeypatch.setattr("hub.library.schema.MIGRATIONS", MIGRATIONS)
    with VoiceLibrary.open(path) as library:
        record = library.get_voice("gran")
        assert record is not None and record.consent is None
        library.add_voice(VoiceRecord("grandad", reference=b"\0" * 400, reference_rate=24000,
                                      consent={"confirmed": True, "surface": "test"}))  # fmt: skip
        again = library.get_voice("grandad")
        assert again is not None and again.consent == {"confirmed": True, "surface": "test"}
