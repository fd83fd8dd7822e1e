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
    walked = sorted((REPO / "adapters").rglob("*.py"))
    # Every adapter is covered, the HTTP API (and its web UI) included.
    assert {p.parent.name for p in walked} >= {"http", "wyoming", "mqtt", "discord", "slack"}
    for path in walked:
        if path.name == "__init__.py" and path.parent.name == "adapters":
            continue  # the registry itself
        for name in _imports(path):
            top = name.split(".")[0]
            if (top == "hub" and name != "hub.api") or top in ("engines", "sqlite3", "sqlite_utils"):
                offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert offenders == []


HUB_INTERNALS = frozenset(
    {"settings", "pools", "library", "metrics", "scheduler", "analysis", "keys", "synthesis", "voices",
     "enrollment", "clips"}
)  # fmt: skip


def test_adapters_use_the_facade_not_the_hub_internals() -> None:
    # `hub.settings.x`, `self.hub.pools`, `request.app[HUB_KEY].metrics`: an adapter that reaches past the
    # facade's methods breaks when the core is reorganized, and skips the checks the facade makes.
    def is_hub(node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in ("hub", "_hub")
        if isinstance(node, ast.Attribute):
            return node.attr in ("hub", "_hub")
        return isinstance(node, ast.Subscript) and ast.unparse(node.slice) == "HUB_KEY"

    offenders = [
        f"{path.relative_to(REPO)}:{node.lineno} uses {ast.unparse(node)}"
        for path in sorted((REPO / "adapters").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute) and is_hub(node.value)
        and (node.attr in HUB_INTERNALS or node.attr.startswith("_"))
    ]  # fmt: skip
    assert offenders == []


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def test_the_hub_has_no_import_cycles() -> None:
    # Every import counts (function-level and TYPE_CHECKING ones too): the facade (hub.api) sits on top of
    # its parts, and no part imports it back (the CLI, which only uses the facade, is the one exception).
    modules = {_module(p): p for p in (REPO / "hub").rglob("*.py")}
    graph = {
        name: {m for m in _all_imports(path) if m in modules and m != name and not name.startswith(m + ".")}
        for name, path in modules.items()
        if not name.startswith("hub.cli")
    }
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*trail, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert cycles == []


def _all_imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (function-local imports too), relative ones resolved."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names if base == "engines"]
    return names


def test_the_hub_imports_only_the_engine_core_and_the_registry() -> None:
    # Engines run in worker processes; the daemon imports their shared core and the registry (`engines`),
    # and the CLI an engine's model-file manifest (`engines.NAME.models`, for `voxhub models pull`).
    def allowed(name: str) -> bool:
        return (
            name in ("engines", "engines.ENGINES", "engines.MODEL_SOURCES", "engines.load_engine_class")
            or name.startswith("engines.core")
            or (name.endswith(".models") and name.count(".") == 2)
        )

    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "hub").rglob("*.py"))
        for name in _all_imports(path)
        if name.split(".")[0] == "engines" and not allowed(name)
    ]
    assert offenders == []


def test_engines_import_only_the_core_and_themselves() -> None:
    # A worker runs in the engine's own environment, where the hub is not importable: an engine imports
    # engines.core, its own package and its own dependencies, never hub.*, adapters.* or another engine.
    offenders = []
    for path in sorted((REPO / "engines").rglob("*.py")):
        rel = path.relative_to(REPO).parts
        own = ".".join(rel[:2]).removesuffix(".py")  # engines.piper, engines.fake, engines.worker ...
        for name in _all_imports(path):
            own_or_core = name.startswith(("engines.core", own + ".")) or name in (
                "engines",
                own,
                "engines.load_engine_class",
            )
            if name.split(".")[0] in ("hub", "adapters", "tests") or (
                name.startswith("engines") and not own_or_core
            ):
                offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert offenders == []


def test_the_core_imports_no_engine() -> None:
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "engines" / "core").rglob("*.py"))
        for name in _all_imports(path)
        if name.split(".")[0] in ("hub", "adapters")
        or (name.startswith("engines.") and not name.startswith("engines.core"))
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
