"""Shared fixtures: a real daemon on an ephemeral port, real audio helpers, the offline Whisper model."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"voxhub listening on (http://\S+)")
ADAPTER_LISTENING = re.compile(r"voxhub (\w+) listening on (\S+)")


@dataclass
class Daemon:
    """A `voxhub serve` process on a free loopback port."""

    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log_path: Path
    lines: list[str] = field(default_factory=list)
    adapter_urls: dict[str, str] = field(default_factory=dict)
    """Where enabled adapters listen, from their `voxhub NAME listening on URL` lines (e.g. "wyoming")."""

    @property
    def api(self) -> str:
        return f"{self.url}/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_daemon(data_dir: Path, env: dict[str, str] | None = None, config: str | None = None,
                 timeout: float = 90.0) -> Daemon:  # fmt: skip
    """Start the real daemon (`python -m hub.cli serve`) and wait until it listens."""
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    full_env.update({"VOXHUB_DATA_DIR": str(data_dir), "VOXHUB_HTTP__PORT": "0", "PYTHONUNBUFFERED": "1"})
    full_env.update(env or {})
    args = [sys.executable, "-m", "hub.cli"]
    if config is not None:
        config_path = data_dir / "test-config.toml"
        config_path.write_text(config)
        args += ["--config", str(config_path)]
    log_path = data_dir / f"daemon-{time.monotonic_ns()}.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen([*args, "serve"], cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=log_file)
    log_file.close()
    daemon = Daemon(proc, "", data_dir, log_path)
    found = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            daemon.lines.append(line)
            if adapter := ADAPTER_LISTENING.search(line):
                daemon.adapter_urls[adapter.group(1)] = adapter.group(2)
            match = LISTENING.search(line)
            if match and not found.is_set():
                daemon.url = match.group(1)
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found.wait(0.05):
        if proc.poll() is not None or time.monotonic() > deadline:
            daemon.stop()
            raise AssertionError(f"daemon did not start (exit {proc.returncode}):\n{daemon.log()}")
    return daemon


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[object]:
    started: list[Daemon] = []

    def factory(name: str = "data", **kwargs: object) -> Daemon:
        daemon = start_daemon(tmp_path / name, **kwargs)  # type: ignore[arg-type]
        started.append(daemon)
        return daemon

    yield factory
    for daemon in started:
        daemon.stop()


# Plumbing tests enroll tones, not speech: store them as uploaded (the quality gate would reject them).
FAKE_ONLY = {"VOXHUB_ENGINES__PIPER__ENABLED": "false", "VOXHUB_ENGINES__FAKE__ENABLED": "true",
             "VOXHUB_VOICES__DEFAULT": "fake-low", "VOXHUB_ENROLL__ANALYZE": "false"}  # fmt: skip


@pytest.fixture(scope="session")
def piper_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon on the offline Piper voice, shared by read-only tests."""
    daemon = start_daemon(tmp_path_factory.mktemp("piper-daemon"))
    yield daemon
    daemon.stop()


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode any container the tests get back (soundfile first, PyAV for aac)."""
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return samples.mean(axis=1), rate
    except sf.LibsndfileError:
        import av

        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            frames = [f.to_ndarray() for f in container.decode(stream)]
            rate = stream.rate
        pcm = np.concatenate([f.reshape(-1, f.shape[-1]).mean(axis=0) if f.ndim > 1 else f for f in frames])
        return pcm.astype(np.float32), rate


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


@pytest.fixture(scope="session")
def transcriber(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Whisper base from the offline packages (faster-whisper)."""
    from hub.quality.asr import Transcriber, offline_model_dir

    return Transcriber(offline_model_dir(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="session")
def pocket_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Pocket TTS model (tests/pocket_model.py), built once: `import pocket_tts` takes 6-7 s."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # everything below loads from local files
    from tests.pocket_model import build

    model_dir = tmp_path_factory.mktemp("pocket-model")
    build(model_dir)
    return model_dir
