"""`voxhub engines install NAME` gives an engine a venv of its own; the daemon's worker for that engine runs
under the venv's interpreter and imports only the engine core and the engine, never the hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openai

from tests.conftest import FAKE_ONLY, REPO, start_daemon
from tests.integration.test_http_openai import get_json


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env["VOXHUB_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_an_engine_in_its_own_venv_serves_requests_without_the_hub(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # --system-site-packages keeps it offline and fast: the pinned requirements are already satisfied.
    result = cli(data_dir, "engines", "install", "fake", "--system-site-packages")
    assert result.returncode == 0, result.stderr
    python = data_dir / "engines" / "fake" / "venv" / "bin" / "python"
    assert python.exists() and "will run under" in result.stderr
    record = json.loads((data_dir / "engines" / "fake" / "installed.json").read_text())
    assert record["python"] == str(python) and record["requirements"] == ["numpy>=1.26"]
    listed = {row["name"]: row for row in json.loads(cli(data_dir, "engines", "list", "--json").stdout)}
    assert listed["fake"]["own_venv"] and listed["fake"]["python"] == str(python)
    assert not listed["piper"]["own_venv"]

    daemon = start_daemon(data_dir, env=FAKE_ONLY)
    try:
        worker = get_json(daemon, "/health")["engines"]["fake"]["workers"][0]
        assert worker["python"] == str(python)
        assert worker["engine_only"] is True  # the worker's sys.modules hold neither hub nor adapters
        client = openai.OpenAI(base_url=daemon.api, api_key="x", max_retries=0)
        audio = client.audio.speech.create(
            model="tts-1", voice="fake-high", input="Hello.", response_format="pcm"
        )
        assert len(audio.read()) > 1000
    finally:
        daemon.stop()


def test_installing_an_unknown_engine_names_the_known_ones(tmp_path: Path) -> None:
    result = cli(tmp_path, "engines", "install", "nonsense")
    assert result.returncode == 1 and "unknown engine 'nonsense': use one of piper, fake" in result.stderr
    assert not (tmp_path / "engines").exists()
