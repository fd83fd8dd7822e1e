"""ZipVoice model files: where they live, what is installed, and `voxhub models pull`.

Layout under the model dir (default `DATA_DIR/models/zipvoice`), mirroring the Hugging Face repo:
`zipvoice/` and `zipvoice_distill/` each with `tokens.txt`, `text_encoder[_int8].onnx` and
`fm_decoder[_int8].onnx`, plus the Vocos vocoder `vocos_24khz.onnx` at the top. Downloads go through
`huggingface_hub` (progress bar, resumable) and are checked against the repo's hashes (sha256 of LFS files,
git blob hash of small ones); the vocoder, a GitHub release asset without a published hash, has its
sha256 recorded on download. Every reachability check happens before anything is written, so offline the
command fails in seconds with the list of files and where to put them by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.core.errors import ConfigError, VoxhubError
from engines.core.files import download, sha256_file

HF_REPO = "k2-fsa/ZipVoice"
VOCODER_URL = "https://github.com/k2-fsa/sherpa-onnx/releases/download/vocoder-models/vocos_24khz.onnx"
VOCODER_FILE = "vocos_24khz.onnx"
MODELS = {"zipvoice": "zipvoice", "zipvoice-distill": "zipvoice_distill"}
"""Model name → folder in the Hugging Face repo (and in the model dir)."""
PRECISIONS = ("fp32", "int8")
MANIFEST = "checksums.json"
NETWORK_TIMEOUT_S = 10.0


class ModelDownloadError(VoxhubError):
    """A model could not be downloaded; the message lists the files and where to put them."""

    status = 503
    type = "server_error"
    code = "model_download_failed"


@dataclass(frozen=True)
class ModelFile:
    """One file of a model."""

    relpath: str
    """Path under the model dir."""
    url: str
    """Where it is downloaded from."""
    repo_file: str | None = None
    """Its path in the Hugging Face repo (None: not on Hugging Face)."""


@dataclass(frozen=True)
class ModelPaths:
    """The files one engine configuration loads."""

    tokens: Path
    encoder: Path
    decoder: Path
    vocoder: Path

    def missing(self) -> list[Path]:
        return [p for p in (self.tokens, self.encoder, self.decoder, self.vocoder) if not p.is_file()]


def default_model_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """`DATA_DIR/models/zipvoice`; DATA_DIR from the argument, VOXHUB_DATA_DIR, or the user data dir."""
    if data_dir is None:
        import platformdirs

        data_dir = os.environ.get("VOXHUB_DATA_DIR") or platformdirs.user_data_dir("voxhub")
    return Path(data_dir).expanduser() / "models" / "zipvoice"


def check_choice(key: str, value: str, choices: tuple[str, ...] | list[str]) -> str:
    """`value` if it is one of `choices`, else ConfigError naming the key."""
    if value not in choices:
        raise ConfigError(f"{key} = {value!r} is not valid: use one of {', '.join(choices)}")
    return value


def model_files(name: str, precision: str) -> list[ModelFile]:
    """The files of model `name` at `precision` (fp32, int8), vocoder included."""
    folder = MODELS[check_choice("model", name, list(MODELS))]
    suffix = "_int8" if check_choice("precision", precision, PRECISIONS) == "int8" else ""
    files = [ModelFile(f"{folder}/{base}", _hf_url(f"{folder}/{base}"), f"{folder}/{base}")
             for base in ("tokens.txt", f"text_encoder{suffix}.onnx", f"fm_decoder{suffix}.onnx")]  # fmt: skip
    return [*files, ModelFile(VOCODER_FILE, VOCODER_URL)]


def model_paths(model_dir: Path, name: str, precision: str, vocoder: Path | None = None) -> ModelPaths:
    """Local paths of the files `name` at `precision` needs."""
    tokens, encoder, decoder, default_vocoder = (model_dir / f.relpath for f in model_files(name, precision))
    return ModelPaths(tokens, encoder, decoder, vocoder or default_vocoder)


def _hf_url(repo_file: str) -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return f"{endpoint}/{HF_REPO}/resolve/main/{repo_file}"


def manual_instructions(model_dir: Path, files: list[ModelFile]) -> str:
    """How to install `files` by hand: one `URL -> local path` line each."""
    lines = [f"  {f.url}\n    -> {model_dir / f.relpath}" for f in files]
    return "download these files by hand and put them here:\n" + "\n".join(lines)


def missing_message(model_dir: Path, name: str, precision: str) -> str:
    """Why the engine cannot start and how to fix it."""
    missing = [f for f in model_files(name, precision) if not (model_dir / f.relpath).is_file()]
    return (f"ZipVoice model {name} ({precision}) is not installed in {model_dir}: run `voxhub models pull "
            f"{name} --precision {precision}` or {manual_instructions(model_dir, missing)}")  # fmt: skip


def _read_manifest(model_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((model_dir / MANIFEST).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def installed(model_dir: Path) -> list[dict[str, Any]]:
    """One row per model and precision: installed?, size, checksum state, missing files."""
    manifest = _read_manifest(model_dir)
    rows = []
    for name in MODELS:
        for precision in PRECISIONS:
            files = model_files(name, precision)
            present = [f for f in files if (model_dir / f.relpath).is_file()]
            size = sum((model_dir / f.relpath).stat().st_size for f in present)
            recorded = [f for f in present
                        if manifest.get(f.relpath, {}).get("size") == (model_dir / f.relpath).stat().st_size]  # fmt: skip
            rows.append({
                "name": name, "precision": precision, "installed": len(present) == len(files),
                "size_mb": round(size / 1e6, 1), "verified": len(recorded) == len(files),
                "missing": [f.relpath for f in files if f not in present], "dir": str(model_dir),
            })  # fmt: skip
    return rows


def _git_blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _matches(path: Path, expected: str) -> bool:
    """Does `path` have the Hugging Face etag `expected` (sha256 for LFS files, git blob sha1 otherwise)?"""
    if re.fullmatch(r"[0-9a-f]{64}", expected):
        return sha256_file(path) == expected
    if re.fullmatch(r"[0-9a-f]{40}", expected):
        return _git_blob_sha1(path) == expected
    return True  # an etag that is no content hash cannot be checked


def pull(name: str, model_dir: Path, precisions: tuple[str, ...] = ("fp32",),
         echo: Callable[[str], None] = print) -> list[Path]:  # fmt: skip
    """Download model `name` (and the vocoder) into `model_dir`; returns the local paths."""
    files: list[ModelFile] = []
    for precision in precisions:
        files += [f for f in model_files(name, precision) if f not in files]
    hf_files = [f for f in files if f.repo_file]
    try:
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    except ImportError:
        raise ModelDownloadError("downloading models needs huggingface_hub: pip install 'voxhub[zipvoice]'; or "
                                 + manual_instructions(model_dir, files)) from None  # fmt: skip
    expected: dict[str, str] = {}
    try:  # every remote check first: offline, fail before writing anything
        for f in hf_files:
            assert f.repo_file is not None
            meta = get_hf_file_metadata(hf_hub_url(HF_REPO, f.repo_file), timeout=NETWORK_TIMEOUT_S)
            expected[f.relpath] = (meta.etag or "").strip('"').removeprefix("W/").strip('"')
        if not (model_dir / VOCODER_FILE).is_file():
            _probe(VOCODER_URL)
    except Exception as exc:  # huggingface_hub and urllib raise many network error types
        raise ModelDownloadError(
            f"cannot reach the model servers ({type(exc).__name__}: {exc}). "
            f"To install {name} offline, {manual_instructions(model_dir, files)}"
        ) from None
    manifest = _read_manifest(model_dir)
    paths = []
    for f in files:
        target = model_dir / f.relpath
        if f.repo_file:
            if not (target.is_file() and _matches(target, expected[f.relpath])):
                echo(f"downloading {f.repo_file} from {HF_REPO}")
                hf_hub_download(HF_REPO, f.repo_file, local_dir=model_dir, etag_timeout=NETWORK_TIMEOUT_S)
                if not _matches(target, expected[f.relpath]):
                    target.unlink(missing_ok=True)
                    raise ModelDownloadError(
                        f"{f.repo_file}: checksum mismatch after download; run the command again"
                    )
        elif not target.is_file():
            echo(f"downloading {f.url}")
            download(f.url, target, timeout=NETWORK_TIMEOUT_S)
        manifest[f.relpath] = {"size": target.stat().st_size, "sha256": sha256_file(target), "source": f.url}
        paths.append(target)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return paths


def _probe(url: str) -> None:
    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT_S):
        pass
