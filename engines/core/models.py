"""Model files and the one way they arrive: `voxhub models pull NAME`, never silently at request time.

A ModelFile says where one file comes from (a Hugging Face repository, or a plain https URL) and where it
goes under its model's directory; `fetch_file` is the one download of a file (resumable, its digest checked,
a bad download removed). A ModelSpec groups a model's files for the registry behind `require` and `install`;
the engines (ZipVoice, Pocket TTS) fetch their own manifests through `fetch_file`. What `voxhub models
list|pull` goes through is engines.core.model_sources. Both the hub and the engines import this module (it
imports neither).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from engines.core.errors import ModelMissing, VoxhubError

NETWORK_TIMEOUT_S = 30.0


class ModelDownloadError(VoxhubError):
    """A model could not be downloaded; the message says why and what to do."""

    status = 503
    type = "server_error"
    code = "model_download_failed"


# --- one file ----------------------------------------------------------------------------------------


def hf_url(repo: str, repo_file: str, revision: str | None = None) -> str:
    """The download URL of a file in a Hugging Face repository (HF_ENDPOINT honoured)."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return f"{endpoint}/{repo}/resolve/{revision or 'main'}/{repo_file}"


@dataclass(frozen=True)
class ModelFile:
    """One file of a model."""

    relpath: str
    """Path under the model's directory."""
    url: str
    """Where it is downloaded from (for a Hugging Face file, its resolve URL)."""
    repo: str = ""
    """Hugging Face repository id ("" when `url` is a plain https file)."""
    repo_file: str = ""
    """Its path in `repo`."""
    revision: str | None = None
    sha256: str = ""
    """Its digest where the source publishes it apart from the file (Hugging Face files: from the server)."""
    gated: bool = False
    """The repository asks users to accept its terms (a token is needed)."""

    @classmethod
    def hf(cls, repo: str, repo_file: str, relpath: str = "", revision: str | None = None,
           gated: bool = False) -> ModelFile:  # fmt: skip
        """A file of a Hugging Face repository, saved as `relpath` (default: its path in the repository)."""
        return cls(
            relpath or repo_file, hf_url(repo, repo_file, revision), repo, repo_file, revision, gated=gated
        )


def manual_instructions(model_dir: Path, files: list[ModelFile]) -> str:
    """How to install `files` by hand: one `URL -> local path` line each."""
    lines = [f"  {f.url}\n    -> {model_dir / f.relpath}" for f in files]
    return "download these files by hand and put them here:\n" + "\n".join(lines)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def matches(path: Path, expected: str) -> bool:
    """Does `path` have the digest `expected`: a sha256, or a Hugging Face etag (sha256 for LFS files, git
    blob sha1 otherwise)? An empty or unrecognised digest cannot be checked and matches."""
    if re.fullmatch(r"[0-9a-f]{64}", expected):
        return sha256_file(path) == expected
    if re.fullmatch(r"[0-9a-f]{40}", expected):
        data = path.read_bytes()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == expected
    return True


def remote_digest(f: ModelFile, token: str | None = None, timeout: float = NETWORK_TIMEOUT_S) -> str:
    """Ask the server about `f` without downloading it: its Hugging Face etag, or (plain URLs) its published
    sha256 after a HEAD request. Raises the network's error when the server cannot be reached."""
    if f.repo:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        meta = get_hf_file_metadata(hf_hub_url(f.repo, f.repo_file, revision=f.revision), token=token,
                                    timeout=timeout)  # fmt: skip
        return (meta.etag or "").strip('"').removeprefix("W/").strip('"')
    with urllib.request.urlopen(urllib.request.Request(f.url, method="HEAD"), timeout=timeout):
        return f.sha256


def download(
    url: str, target: Path, timeout: float = NETWORK_TIMEOUT_S, headers: Mapping[str, str] | None = None
) -> None:
    """Bytes go to `target.part` (resumed if present), renamed when complete: never a half file."""
    from tqdm import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    done = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(
        url, headers={**(headers or {}), **({"Range": f"bytes={done}-"} if done else {})}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if done and response.status != 206:  # the server ignored the range: start again
            done = 0
        total = done + int(response.headers.get("Content-Length") or 0)
        with (
            partial.open("ab" if done else "wb") as out,
            tqdm(total=total or None, initial=done, unit="B", unit_scale=True, desc=target.name) as bar,
        ):
            while block := response.read(1 << 20):
                out.write(block)
                bar.update(len(block))
    os.replace(partial, target)


def fetch_file(f: ModelFile, target: Path, *, token: str | None = None, expected: str | None = None,
               timeout: float = NETWORK_TIMEOUT_S) -> None:  # fmt: skip
    """Put `f` at `target` unless it is already there with the right digest (`expected`, else asked of the
    server for Hugging Face files, else `f.sha256`). Hugging Face files come through huggingface_hub (partial
    files resumed), others through `download`; a download that fails its checksum is removed
    (ModelDownloadError). Network errors propagate."""
    if f.repo:
        from huggingface_hub import hf_hub_download

        if expected is None:
            expected = remote_digest(f, token, timeout)
        if target.is_file() and expected and matches(target, expected):
            return
        staging = target.parent / ".download"
        downloaded = Path(hf_hub_download(f.repo, f.repo_file, revision=f.revision, local_dir=staging,
                                          token=token, etag_timeout=timeout))  # fmt: skip
    else:
        expected = expected or f.sha256
        if target.is_file():
            return
        downloaded = target
        download(f.url, target, timeout=timeout)
    if expected and not matches(downloaded, expected):
        downloaded.unlink()
        raise ModelDownloadError(f"{f.relpath} failed its checksum and was removed: run the pull again")
    if downloaded != target:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(downloaded, target)


# --- the registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """One pullable model: `voxhub models pull NAME` fetches its files into `models_dir / dest`."""

    name: str
    """What `voxhub models pull` takes, e.g. `whisper-small`."""
    description: str
    dest: str
    """Directory under the models directory that holds the files."""
    files: tuple[ModelFile, ...]

    def directory(self, models_dir: Path) -> Path:
        """Where the model's files live."""
        return Path(models_dir) / self.dest

    def file_names(self) -> list[str]:
        """Local file names, in `files` order."""
        return [f.relpath for f in self.files]

    def sources(self) -> list[tuple[str, str]]:
        """(URL, local file name) for every file."""
        return [(f.url, f.relpath) for f in self.files]

    @property
    def sha256(self) -> dict[str, str]:
        """Expected digests by file name, where the source publishes them."""
        return {f.relpath: f.sha256 for f in self.files if f.sha256}

    def is_present(self, models_dir: Path) -> bool:
        """True when every file is in place (each file is written atomically)."""
        where = self.directory(models_dir)
        return all((where / name).is_file() for name in self.file_names())


MODELS: dict[str, ModelSpec] = {}
"""name -> spec; `voxhub models list` shows them in this order."""
PACKAGED: dict[str, tuple[Callable[[Path], Path], Callable[[], bool]]] = {}
"""Models an installed package can provide offline: name -> (assemble into models_dir, is it installed)."""


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


def _from_package(name: str, models_dir: Path, log: Callable[[str], None] | None = None) -> None:
    if not spec(name).is_present(models_dir) and name in PACKAGED and PACKAGED[name][1]():
        if log is not None:
            log(f"assembling {name} from its installed offline package")
        PACKAGED[name][0](models_dir)


def install(name: str, models_dir: Path) -> Path:
    """The model's directory, assembled from its offline package if that is installed (no network);
    ModelMissing naming the pull command when neither is there."""
    _from_package(name, models_dir)
    return require(name, models_dir)


def pull(name: str, models_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Fetch `name`'s missing files: from its offline package if installed, else downloaded with a progress
    bar (resumable, digests checked where known)."""
    _from_package(name, models_dir, log)
    model = spec(name)
    where = model.directory(models_dir)
    for f in model.files:
        if (where / f.relpath).is_file():
            continue
        log(f"downloading {f.url}")
        try:
            fetch_file(f, where / f.relpath)
        except ModelDownloadError as exc:
            raise ModelMissing(exc.message, param="model") from None
        except OSError as exc:
            raise ModelMissing(
                f"could not download {f.url} ({exc}): check the network, or fetch the file by hand into {where}",
                param="model",
            ) from None
    return where
