"""TTS engines. Each engine runs inside a worker process owned by the hub.

Engines are named here and imported only when chosen in config, so a CPU install never imports a
GPU runtime and the hub process never imports an engine's heavy stack at all.
"""

ENGINES: dict[str, str] = {
    "piper": "engines.piper.engine:PiperEngine",
    "fake": "engines.fake:FakeEngine",
    "zipvoice": "engines.zipvoice.engine:ZipVoiceEngine",
}


def load_engine_class(name: str) -> type:
    """Import the engine class registered under `name` (lazily)."""
    from hub.registry import load

    return load(ENGINES, name, "engine")
