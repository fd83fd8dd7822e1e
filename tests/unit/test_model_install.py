"""Whisper models arrive one way, through hub.models: pulled, or assembled from an installed offline package."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.core import models
from hub.errors import ModelMissing
from hub.quality.asr import load_backend


def _fake_package(calls: list[Path]):  # type: ignore[no-untyped-def]
    def assemble(models_dir: Path) -> Path:
        calls.append(models_dir)
        target = models_dir / "whisper-tiny"
        target.mkdir(parents=True)
        for name in models.spec("whisper-tiny").file_names():
            (target / name).write_text("x")
        return target

    return assemble


def test_a_missing_model_names_the_pull_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="voxhub models pull whisper-tiny"):
        models.install("whisper-tiny", tmp_path)
    with pytest.raises(ModelMissing, match="voxhub models pull whisper-tiny"):
        load_backend("faster-whisper", "tiny", tmp_path).load()  # the ASR backend asks hub.models
    assert not (tmp_path / "whisper-tiny").exists()


def test_install_and_pull_use_an_installed_offline_package_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setitem(models.PACKAGED, "whisper-tiny", (_fake_package(calls), lambda: True))

    def no_network(url: str, target: Path, timeout: float = 0) -> None:
        raise AssertionError(f"downloaded {url}")

    monkeypatch.setattr(models, "download", no_network)
    assert models.pull("whisper-tiny", tmp_path / "a", log=lambda _: None) == tmp_path / "a" / "whisper-tiny"
    assert models.install("whisper-tiny", tmp_path / "b") == tmp_path / "b" / "whisper-tiny"
    assert models.install("whisper-tiny", tmp_path / "b") == tmp_path / "b" / "whisper-tiny"  # once only
    assert calls == [tmp_path / "a", tmp_path / "b"]
