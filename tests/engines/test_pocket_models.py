"""`voxhub models pull pocket-tts`: offline it names the command and where each file goes by hand; a refused
gated checkpoint leaves a working preset-only install; a corrupt download is removed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from engines.pocket import models
from tests.conftest import REPO


def test_offline_the_pull_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env.update(VOXHUB_DATA_DIR=str(tmp_path), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-m", "hub.cli", "models", "pull", "pocket-tts"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 1, result.stderr
    where = tmp_path / "models" / "pocket-tts"
    assert "could not download kyutai/" in result.stderr and "voxhub models pull pocket-tts" in result.stderr
    assert f"{where / 'tokenizer.json'}  <-  https://huggingface.co/kyutai/" in result.stderr
    assert "model.safetensors" in result.stderr and "(gated)" in result.stderr
    assert not (where / "config.yaml").exists()


def test_a_refused_cloning_checkpoint_leaves_preset_voices_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub.errors import GatedRepoError

    def fetch(repo: str, name: str, rev: str | None, target: Path, token: str | None) -> None:
        if repo == models.CLONING_REPO:
            raise GatedRepoError("gated", response=SimpleNamespace(status_code=403, headers={}, request=None))  # type: ignore[arg-type]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x")

    monkeypatch.setattr(models, "_fetch", fetch)
    said: list[str] = []
    assert models.pull(tmp_path, token=None, log=said.append) is False
    assert any(
        "accept the model's terms on https://huggingface.co/kyutai/pocket-tts" in line for line in said
    )
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["flow_lm"]["lookup_table"]["tokenizer_path"] == str(tmp_path / "tokenizer.json")
    path, cloning = models.effective_config(tmp_path)  # what the engine loads: the public checkpoint
    assert cloning is False and yaml.safe_load(path.read_text())["weights_path"].endswith(
        "model-without-cloning.safetensors"
    )
    assert sorted(models.installed(tmp_path)["voices"]) == sorted(models.PRESETS)


def test_a_download_that_fails_its_checksum_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    good = b"the real bytes"
    staged = tmp_path / "staged.bin"

    def download(repo: str, name: str, **kwargs: Any) -> str:
        staged.write_bytes(b"corrupted bytes")
        return str(staged)

    monkeypatch.setattr(huggingface_hub, "hf_hub_url", lambda repo, name, revision=None: f"{repo}/{name}")
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata",
                        lambda url, token=None, timeout=None: SimpleNamespace(etag=hashlib.sha256(good).hexdigest()))  # fmt: skip
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    with pytest.raises(models.ModelDownloadError, match="failed its checksum and was removed"):
        models._fetch("kyutai/x", "model.safetensors", None, tmp_path / "model.safetensors", None)
    assert not staged.exists() and not (tmp_path / "model.safetensors").exists()
