"""Layering rules that code review alone would let slip: adapters talk to the Hub facade and nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_adapters_import_only_the_hub_facade() -> None:
    offenders = []
    for path in sorted((REPO / "adapters").rglob("*.py")):
        if path.name == "__init__.py" and path.parent.name == "adapters":
            continue  # the registry itself
        for name in _imports(path):
            top = name.split(".")[0]
            if (top == "hub" and name != "hub.api") or top in ("engines", "sqlite3", "sqlite_utils"):
                offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert offenders == []


def test_the_hub_never_imports_an_engine_implementation() -> None:
    # Engines run in worker processes; the daemon imports only their contract and registry, and the CLI
    # an engine's model-file manifest (`engines.NAME.models`, for `voxhub models pull`).
    allowed = {"engines", "engines.base", "engines.protocol"}
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "hub").rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] == "engines" and name not in allowed and not name.endswith(".models")
    ]
    assert offenders == []


def test_nothing_reads_the_developers_shared_folder() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("hub", "engines", "adapters", "tests", "bench", "addon", "deploy", "scripts", ".ci")
        for path in (REPO / folder).rglob("*")
        if path.is_file() and path.suffix in ("", ".py", ".sh", ".yaml", ".toml", ".md")
        and path != Path(__file__) and "../shared" in path.read_text(errors="ignore")
    ]  # fmt: skip
    assert offenders == []
