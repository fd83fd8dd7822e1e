"""TTS engines. Each engine runs inside a worker process owned by the hub.

Engines are named here and imported only when chosen in config, so a CPU install never imports a
GPU runtime and the hub process never imports an engine's heavy stack at all. An engine imports only
`engines.core` and its own dependencies, so its worker can run in a venv of its own without the hub.
"""

from __future__ import annotations

from engines.core.registry import load

ENGINES: dict[str, str] = {
    "piper": "engines.piper.engine:PiperEngine",
    "fake": "engines.fake:FakeEngine",
    "zipvoice": "engines.zipvoice.engine:ZipVoiceEngine",
    "pocket": "engines.pocket.engine:PocketEngine",
}

MODEL_SOURCES: dict[str, str] = {
    "zipvoice": "engines.zipvoice.models:SOURCE",
    "pocket": "engines.pocket.models:SOURCE",
    "registry": "engines.core.model_sources:REGISTRY",
}
"""Every model source (engines.core.model_sources.ModelSource) behind `voxhub models list|pull`, in listing order:
an engine's models module (imports no engine runtime), and the ModelSpec registry (the hub's Whisper models)."""


def load_engine_class(name: str) -> type:
    """Import the engine class registered under `name` (lazily); KeyError lists the known engines."""
    return load(ENGINES, name, "engine")
