"""`voxhub check` exit codes (0 accept, 1 warn, 2 reject) and `voxhub voices add` on a rejected clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.conftest import REPO


def voxhub(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env["VOXHUB_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_check_exit_codes_follow_the_verdict(
    tmp_path: Path, piper_clip: np.ndarray, degrade: dict, write_clip: Callable[..., Path]
) -> None:
    clean = voxhub(tmp_path, "check", str(write_clip("clean.wav", piper_clip)), "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["verdict"] == "accept"
    narrow = voxhub(tmp_path, "check", str(write_clip("phone.wav", degrade["narrowband"](piper_clip))))
    assert narrow.returncode == 1, narrow.stderr
    assert "verdict: warn" in narrow.stdout and "bandwidth" in narrow.stdout and "24 kHz" in narrow.stdout
    silent = voxhub(tmp_path, "check", str(write_clip("silent.wav", degrade["silent"](piper_clip))))
    assert silent.returncode == 2 and "no_speech" in silent.stdout
    missing = voxhub(tmp_path, "check", str(tmp_path / "nope.wav"))
    assert missing.returncode == 2 and "is not a file" in missing.stderr


def test_voices_add_refuses_a_rejected_clip(
    tmp_path: Path, piper_clip: np.ndarray, degrade: dict, write_clip: Callable[..., Path]
) -> None:
    result = voxhub(
        tmp_path,
        "voices",
        "add",
        "quiet",
        "--consent",
        str(write_clip("silent.wav", degrade["silent"](piper_clip))),
    )
    assert result.returncode == 2 and "nothing was stored" in result.stderr and "no speech" in result.stderr
    listed = voxhub(tmp_path, "voices", "list")
    assert "quiet" not in listed.stdout
