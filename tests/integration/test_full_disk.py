"""A full or read-only data directory: speech stays complete, errors are clear, /health tells."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import FAKE_ONLY, REPO
from tests.integration.test_http_guard import multipart, raw, tone_wav
from tests.integration.test_http_openai import get_json, post

LONG = " ".join(f"This is sentence number {n}, long enough that its audio is far bigger than the write "
                "ahead log the library already has on the disk." for n in range(3))  # fmt: skip


@contextlib.contextmanager
def tmpfs(where: Path, size: str, readonly: bool = False) -> Iterator[Path]:
    """A small tmpfs of its own at `where` (needs root: CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if readonly else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system says ENOSPC; return it (delete it to free the space)."""
    filler = directory / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError), filler.open("ab") as fh:  # the last few bytes
        for _ in range(65536):
            fh.write(b"\0")
            fh.flush()
    return filler


def speak(daemon: object) -> tuple[int, dict, bytes]:
    body = {"model": "tts-1", "input": LONG, "voice": "fake-low", "response_format": "wav"}
    return post(daemon, "/v1/audio/speech", json.dumps(body).encode())  # type: ignore[arg-type]


def test_speech_on_a_full_disk_is_complete_and_health_says_degraded(
    daemon_factory: object, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "disk", "6m") as disk:
        daemon = daemon_factory(name="disk/data", env=FAKE_ONLY)  # type: ignore[operator]
        assert get_json(daemon, "/health")["library"]["writable"] is True
        filler = fill(disk)
        status, headers, full_disk_audio = speak(daemon)
        assert status == 200 and headers["X-Voxhub-Cache"] == "miss"
        health = get_json(daemon, "/health")
        assert health["status"] == "degraded" and health["library"]["writable"] is False
        assert str(daemon.data_dir) in health["library"]["error"]

        body, ctype = multipart({"name": "mum"}, tone_wav())
        status, _, payload = raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})
        assert status == 507, payload
        error = json.loads(payload)["error"]
        assert error["code"] == "storage_unavailable" and str(daemon.data_dir) in error["message"]
        assert "full" in error["message"]

        filler.unlink()
        status, headers, audio = speak(daemon)
        assert status == 200 and headers["X-Voxhub-Cache"] == "miss"  # the full disk cached nothing
        assert audio == full_disk_audio, "the audio served on the full disk was not complete"
        assert sf.info(io.BytesIO(audio)).frames > 3 * 100 * 0.02 * 16000
        assert get_json(daemon, "/health")["status"] == "ok"
        assert speak(daemon)[1]["X-Voxhub-Cache"] == "hit"
        assert raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})[0] == 201


def serve(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env.update({**FAKE_ONLY, "VOXHUB_DATA_DIR": str(data_dir), "VOXHUB_HTTP__PORT": "0"})
    return subprocess.run([sys.executable, "-m", "hub.cli", "serve"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("kind", ["full", "read-only"])
def test_an_unusable_data_directory_at_start_is_one_line(tmp_path: Path, kind: str) -> None:
    with tmpfs(tmp_path / "disk", "1m", readonly=kind == "read-only") as disk:
        if kind == "full":
            (disk / "data").mkdir()
            fill(disk)
        result = serve(disk / "data")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("voxhub:") or "Traceback" in line]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(disk / "data") in lines[0] and "VOXHUB_DATA_DIR" in lines[0]
    assert ("full" if kind == "full" else "not writable") in lines[0]
