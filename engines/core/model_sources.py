"""Model sources: what `voxhub models list|pull` goes through. Every source (the ModelSpec registry, ZipVoice,
Pocket TTS; named in engines.MODEL_SOURCES) implements ModelSource, so the command has one path and no
per-engine branches. Downloads themselves go through engines.core.models.fetch_file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from engines.core.models import MODELS, pull
from engines.core.registry import load


@dataclass(frozen=True)
class ModelContext:
    """What a model source may use: the data directory, its engine's config options, the pull's flags."""

    data_dir: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    """The `[engines.NAME]` options of the source's engine (`ModelSource.engine`); empty when none."""
    token: str | None = None
    """Hugging Face token for gated files (`--token`; the source may fall back to HF_TOKEN)."""
    precision: str | None = None
    """`--precision` (None: the engine's configured one)."""

    def model_dir(self, default: Path) -> Path:
        """The engine's `model_dir` option, else `default`."""
        configured = str(self.options.get("model_dir") or "")
        return Path(configured).expanduser() if configured else default


@runtime_checkable
class ModelSource(Protocol):
    """One place models come from: `voxhub models list|pull` knows models only through this."""

    engine: str
    """The engine whose config section fills `ModelContext.options` ("" for none)."""

    def names(self) -> list[str]:
        """The names `voxhub models pull` takes from this source, in listing order."""
        ...

    def rows(self, context: ModelContext) -> list[dict[str, Any]]:
        """`voxhub models list --json`: one row per model (or per model and variant)."""
        ...

    def lines(self, rows: list[dict[str, Any]], context: ModelContext) -> list[str]:
        """`voxhub models list`: this source's block of the table, from its `rows`."""
        ...

    def pull(self, name: str, context: ModelContext, log: Callable[[str], None]) -> str:
        """Fetch `name`, saying what it does through `log`; returns the closing line (where it went). A
        VoxhubError (ModelDownloadError, ModelMissing, ConfigError) says why it could not."""
        ...


class RegistrySource:
    """The ModelSpec registry (MODELS: the hub's Whisper models) as a model source, under DATA_DIR/models."""

    engine = ""

    def names(self) -> list[str]:
        return list(MODELS)

    def rows(self, context: ModelContext) -> list[dict[str, Any]]:
        models_dir = context.data_dir / "models"
        return [{"name": m.name, "installed": m.is_present(models_dir), "description": m.description,
                 "path": str(m.directory(models_dir))} for m in MODELS.values()]  # fmt: skip

    def lines(self, rows: list[dict[str, Any]], context: ModelContext) -> list[str]:
        table = [f"{row['name']:<22}  {'installed' if row['installed'] else 'missing':<9}  {row['description']}"
                 for row in rows]  # fmt: skip
        return [*table, f"speech recognition models: {context.data_dir / 'models'}"]

    def pull(self, name: str, context: ModelContext, log: Callable[[str], None]) -> str:
        return f"{name} installed in {pull(name, context.data_dir / 'models', log)}"


REGISTRY: ModelSource = RegistrySource()


def load_sources(table: Mapping[str, str]) -> dict[str, ModelSource]:
    """Import every source `table` names (key -> "module:attribute"), in its order."""
    return {key: cast(ModelSource, load(table, key, "model source")) for key in table}


def by_name(sources: Mapping[str, ModelSource]) -> dict[str, ModelSource]:
    """The one name table: model name -> its source, in listing order (a name claimed twice is a bug)."""
    table: dict[str, ModelSource] = {}
    for key, source in sources.items():
        for name in source.names():
            if name in table:
                raise ValueError(f"model {name!r} is offered by two model sources (the second: {key!r})")
            table[name] = source
    return table
