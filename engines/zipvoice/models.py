"""ZipVoice model files: where they live, what is installed, and `voxhub models pull` (SOURCE, its model source).

Layout under the model dir (default `DATA_DIR/models/zipvoice`), mirroring the Hugging Face repo:
`zipvoice/` and `zipvoice_distill/` each with `tokens.txt`, `text_encoder[_int8].onnx` and
`fm_decoder[_int8].onnx`, plus the Vocos vocoder `vocos_24khz.onnx` at the top. Each file is fetched by
the one model download (engines.core.models.fetch_file: resumable, checked against the repo's hashes); the
vocoder, a GitHub release asset without a published hash, has its sha256 recorded in `checksums.json` on
download. Every reachability check happens before anything is written, so offline the command fails in
seconds with the list of files and where to put them by hand.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.core.errors import ConfigError
from engines.core.model_sources import ModelContext, ModelSource
from engines.core.models import (
    ModelDownloadError,
    ModelFile,
    fetch_file,
    manual_instructions,
    matches,
    remote_digest,
    sha256_file,
)

HF_REPO = "k2-fsa/ZipVoice"
VOCODER_URL = "https://github.com/k2-fsa/sherpa-onnx/releases/download/vocoder-models/vocos_24khz.onnx"
VOCODER_FILE = "vocos_24khz.onnx"
MODELS = {"zipvoice": "zipvoice", "zipvoice-distill": "zipvoice_distill"}
"""Model name → folder in the Hugging Face repo (and in the model dir)."""
PRECISIONS = ("fp32", "int8")
MANIFEST = "checksums.json"
NETWORK_TIMEOUT_S = 10.0


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
    files = [ModelFile.hf(HF_REPO, f"{folder}/{base}")
             for base in ("tokens.txt", f"text_encoder{suffix}.onnx", f"fm_decoder{suffix}.onnx")]  # fmt: skip
    return [*files, ModelFile(VOCODER_FILE, VOCODER_URL)]


def model_paths(model_dir: Path, name: str, precision: str, vocoder: Path | None = None) -> ModelPaths:
    """Local paths of the files `name` at `precision` needs."""
    tokens, encoder, decoder, default_vocoder = (model_dir / f.relpath for f in model_files(name, precision))
    return ModelPaths(tokens, encoder, decoder, vocoder or default_vocoder)


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


def pull(name: str, model_dir: Path, precisions: tuple[str, ...] = ("fp32",),
         echo: Callable[[str], None] = print) -> list[Path]:  # fmt: skip
    """Download model `name` (and the vocoder) into `model_dir`; returns the local paths."""
    files: list[ModelFile] = []
    for precision in precisions:
        files += [f for f in model_files(name, precision) if f not in files]
    if importlib.util.find_spec("huggingface_hub") is None:
        raise ModelDownloadError("downloading models needs huggingface_hub: pip install 'voxhub[zipvoice]'; or "
                                 + manual_instructions(model_dir, files)) from None  # fmt: skip
    expected: dict[str, str] = {}
    try:  # every remote check first: offline, fail before writing anything
        for f in files:
            if f.repo or not (model_dir / f.relpath).is_file():
                expected[f.relpath] = remote_digest(f, timeout=NETWORK_TIMEOUT_S)
    except Exception as exc:  # huggingface_hub and urllib raise many network error types
        raise ModelDownloadError(
            f"cannot reach the model servers ({type(exc).__name__}: {exc}). "
            f"To install {name} offline, {manual_instructions(model_dir, files)}"
        ) from None
    manifest = _read_manifest(model_dir)
    paths = []
    for f in files:
        target = model_dir / f.relpath
        if not (target.is_file() and matches(target, expected.get(f.relpath, ""))):
            echo(f"downloading {f.repo_file or f.url}" + (f" from {f.repo}" if f.repo else ""))
            fetch_file(f, target, expected=expected.get(f.relpath, ""), timeout=NETWORK_TIMEOUT_S)
        manifest[f.relpath] = {"size": target.stat().st_size, "sha256": sha256_file(target), "source": f.url}
        paths.append(target)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return paths


class ZipVoiceSource:
    """ZipVoice's models for `voxhub models list|pull`: every model and precision, in `[engines.zipvoice]`'s
    model_dir; a pull takes --precision (fp32, int8, all), else the engine's configured precision."""

    engine = "zipvoice"

    def names(self) -> list[str]:
        return list(MODELS)

    def rows(self, context: ModelContext) -> list[dict[str, Any]]:
        return installed(context.model_dir(default_model_dir(context.data_dir)))

    def lines(self, rows: list[dict[str, Any]], context: ModelContext) -> list[str]:
        table = [f"{'NAME':<17}  {'PRECISION':<9}  {'STATE':<9}  {'SIZE':>9}  MISSING"]
        for row in rows:
            state = ("verified" if row["verified"] else "installed") if row["installed"] else "missing"
            table.append(f"{row['name']:<17}  {row['precision']:<9}  {state:<9}  {row['size_mb']:>7.1f}MB  "
                         f"{', '.join(row['missing']) or '-'}")  # fmt: skip
        return [*table, f"model dir: {context.model_dir(default_model_dir(context.data_dir))}"]

    def pull(self, name: str, context: ModelContext, log: Callable[[str], None]) -> str:
        precision = context.precision or str(context.options.get("precision", "fp32"))
        precisions = PRECISIONS if precision == "all" else (precision,)
        model_dir = context.model_dir(default_model_dir(context.data_dir))
        paths = pull(name, model_dir, precisions, log)
        return f"{name} ({', '.join(precisions)}) installed in {model_dir}: {len(paths)} files"


SOURCE: ModelSource = ZipVoiceSource()
