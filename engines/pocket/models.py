"""Pocket TTS model files: `voxhub models pull pocket-tts` (SOURCE), what is installed, the config the engine loads.

Layout of the model dir (default DATA_DIR/models/pocket-tts): `config.yaml` (the package's English config with
every path made local), `model.safetensors` (the cloning checkpoint, gated: accept the terms on its model page
and pull with a token), `model-without-cloning.safetensors` (public: preset voices only), `tokenizer.json`
and `voices/NAME.safetensors` (preset voice states). Each file is fetched by the one model download
(engines.core.models.fetch_file: resumable, checked against the repository's hashes); nothing here imports
torch.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engines.core.errors import ConfigError
from engines.core.model_sources import ModelContext, ModelSource
from engines.core.models import ModelDownloadError, ModelFile, fetch_file

MODEL_NAME = "pocket-tts"
CLONING_REPO = "kyutai/pocket-tts"
PUBLIC_REPO = "kyutai/pocket-tts-without-voice-cloning"
PRESETS = ("alba", "marius", "javert", "jean", "fantine", "cosette", "eponine", "azelma")
TERMS_URL = f"https://huggingface.co/{CLONING_REPO}"


def default_model_dir(data_dir: Path | None = None) -> Path:
    """DATA_DIR/models/pocket-tts (the worker learns DATA_DIR from VOXHUB_DATA_DIR)."""
    base = data_dir or Path(os.environ.get("VOXHUB_DATA_DIR") or "~/.local/share/voxhub").expanduser()
    return Path(base) / "models" / MODEL_NAME


def package_config(language: str = "english") -> dict[str, Any]:
    """The package's own YAML for `language`, read without importing the package (and torch)."""
    import yaml

    spec = importlib.util.find_spec("pocket_tts")
    if spec is None or not spec.submodule_search_locations:
        raise ModelDownloadError("pocket-tts is not installed: pip install 'voxhub[pocket]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "config" / f"{language}.yaml"
    return dict(yaml.safe_load(path.read_text()))


def _hf(ref: str, relpath: str, gated: bool = False) -> ModelFile:
    """hf://owner/repo/path@rev, saved as `relpath`."""
    parts = ref.removeprefix("hf://").split("/")
    filename, _, revision = "/".join(parts[2:]).partition("@")
    return ModelFile.hf("/".join(parts[:2]), filename, relpath, revision or None, gated)


def manifest(language: str = "english") -> list[ModelFile]:
    """Every file of the model, the gated cloning checkpoint last."""
    config = package_config(language)
    public = _hf(config["weights_path_without_voice_cloning"], "model-without-cloning.safetensors")
    files = [public, _hf(config["flow_lm"]["lookup_table"]["tokenizer_path"], "tokenizer.json")]
    files += [ModelFile.hf(PUBLIC_REPO, f"languages/{language}/embeddings/{name}.safetensors",
                           f"voices/{name}.safetensors", public.revision) for name in PRESETS]  # fmt: skip
    files.append(_hf(config["weights_path"], "model.safetensors", gated=True))
    return files


def missing_message(model_dir: Path) -> str:
    """What to do when the model files are not there (offline: where to put them by hand)."""
    lines = [f"Pocket TTS model files are not in {model_dir}: run `voxhub models pull {MODEL_NAME}` (with "
             f"--token or HF_TOKEN for the voice-cloning checkpoint, after accepting its terms on {TERMS_URL}). "
             f"Offline, copy these files there by hand (then run the pull once to write config.yaml):"]  # fmt: skip
    try:
        for f in manifest():
            lines.append(f"  {model_dir / f.relpath}  <-  {f.url}" + ("  (gated)" if f.gated else ""))
    except (ModelDownloadError, OSError, KeyError):
        pass
    return "\n".join(lines)


def effective_config(model_dir: Path) -> tuple[Path, bool]:
    """The YAML the engine loads, and whether it clones: without the cloning checkpoint, the public one."""
    import yaml

    path = model_dir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    weights = Path(str(config.get("weights_path") or ""))
    if weights.is_file():
        return path, True
    fallback = Path(str(config.get("weights_path_without_voice_cloning") or ""))
    if not fallback.is_file():
        raise ConfigError(missing_message(model_dir))
    config["weights_path"] = str(fallback)
    effective = model_dir / ".config-without-cloning.yaml"
    effective.write_text(yaml.safe_dump(config))
    return effective, False


def _fetch(repo: str, name: str, rev: str | None, target: Path, token: str | None) -> None:
    """One file into `target` (the one model download: resumable, checksum checked)."""
    fetch_file(ModelFile.hf(repo, name, revision=rev), target, token=token, timeout=10)


def pull(model_dir: Path, token: str | None = None, log: Callable[[str], None] = print) -> bool:
    """Download the model into `model_dir` and write config.yaml; True when the cloning checkpoint came too."""
    import yaml
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError

    token = token or os.environ.get("HF_TOKEN") or None
    cloning = True
    for f in manifest():
        repo, name, gated = f.repo, f.repo_file, f.gated
        log(f"{repo}/{name} -> {model_dir / f.relpath}")
        try:
            _fetch(repo, name, f.revision, model_dir / f.relpath, token)
        except (GatedRepoError, HfHubHTTPError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if gated and (isinstance(exc, GatedRepoError) or status in (401, 403)):
                cloning = False
                log(f"the voice-cloning checkpoint was refused ({status or 'gated'}): accept the model's terms on "
                    f"{TERMS_URL} (logged in), then pull again with --token YOUR_TOKEN or HF_TOKEN set. Preset "
                    "voices work without it.")  # fmt: skip
                continue
            raise ModelDownloadError(f"could not download {repo}/{name}: {exc}") from None
        except (LocalEntryNotFoundError, OSError) as exc:
            raise ModelDownloadError(f"could not download {repo}/{name} ({type(exc).__name__}: {exc}).\n"
                                     + missing_message(model_dir)) from None  # fmt: skip
    config = package_config()
    config["weights_path"] = str(model_dir / "model.safetensors")
    config["weights_path_without_voice_cloning"] = str(model_dir / "model-without-cloning.safetensors")
    config["flow_lm"]["lookup_table"]["tokenizer_path"] = str(model_dir / "tokenizer.json")
    (model_dir / "config.yaml").write_text(yaml.safe_dump(config))
    return cloning


def installed(model_dir: Path) -> dict[str, Any]:
    """What `voxhub models list` shows for Pocket TTS."""
    return {"name": MODEL_NAME, "path": str(model_dir), "installed": (model_dir / "config.yaml").is_file(),
            "cloning": (model_dir / "model.safetensors").is_file(),
            "voices": sorted(p.stem for p in (model_dir / "voices").glob("*.safetensors"))}  # fmt: skip


class PocketSource:
    """Pocket TTS for `voxhub models list|pull`, in `[engines.pocket]`'s model_dir; a pull takes --token
    (else HF_TOKEN) for the gated cloning checkpoint."""

    engine = "pocket"

    def names(self) -> list[str]:
        return [MODEL_NAME]

    def rows(self, context: ModelContext) -> list[dict[str, Any]]:
        return [installed(context.model_dir(default_model_dir(context.data_dir)))]

    def lines(self, rows: list[dict[str, Any]], context: ModelContext) -> list[str]:
        return [f"{row['name']:<17}  {'-':<9}  {'installed' if row['installed'] else 'missing':<9}  "
                f"cloning {'yes' if row['cloning'] else 'no'}, voices: {', '.join(row['voices']) or '-'}"
                for row in rows]  # fmt: skip

    def pull(self, name: str, context: ModelContext, log: Callable[[str], None]) -> str:
        model_dir = context.model_dir(default_model_dir(context.data_dir))
        cloning = pull(model_dir, context.token, log)
        mode = "with voice cloning" if cloning else "preset voices only (no cloning checkpoint)"
        return f"{MODEL_NAME} installed in {model_dir}: {mode}"


SOURCE: ModelSource = PocketSource()
