"""The one model download (engines.core.models.fetch_file): digests checked, a bad file removed, a good one kept."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engines.core import models
from engines.core.models import ModelDownloadError, ModelFile, fetch_file, matches


def test_matches_knows_sha256_and_git_blob_digests(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello\n")
    assert matches(path, hashlib.sha256(b"hello\n").hexdigest())
    assert matches(path, "ce013625030ba8dba906f756967f9e9ca394464a")  # `git hash-object` of "hello\n"
    assert not matches(path, hashlib.sha256(b"other").hexdigest())
    assert not matches(path, "0" * 40)


def test_a_url_file_failing_its_published_digest_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def download(url: str, target: Path, timeout: float = 0) -> None:
        target.write_bytes(b"corrupted")

    monkeypatch.setattr(models, "download", download)
    f = ModelFile("m.bin", "https://example.invalid/m.bin", sha256=hashlib.sha256(b"good").hexdigest())
    with pytest.raises(ModelDownloadError, match=r"m\.bin failed its checksum and was removed"):
        fetch_file(f, tmp_path / "m.bin")
    assert not (tmp_path / "m.bin").exists()
    monkeypatch.setattr(models, "download", lambda url, target, timeout=0: target.write_bytes(b"good"))
    fetch_file(f, tmp_path / "m.bin")
    assert (tmp_path / "m.bin").read_bytes() == b"good"


def test_a_hugging_face_file_already_in_place_is_not_downloaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    good = b"weights"
    (tmp_path / "w.bin").write_bytes(good)
    monkeypatch.setattr(huggingface_hub, "hf_hub_url", lambda repo, name, revision=None: f"{repo}/{name}")
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata",
                        lambda url, token=None, timeout=None: SimpleNamespace(etag=f'"{hashlib.sha256(good).hexdigest()}"'))  # fmt: skip

    def download(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("downloaded a file that was in place")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    fetch_file(ModelFile.hf("org/repo", "w.bin"), tmp_path / "w.bin")
    assert ModelFile.hf("org/repo", "dir/w.bin", "w.bin", "abc").url.endswith(
        "/org/repo/resolve/abc/dir/w.bin"
    )
