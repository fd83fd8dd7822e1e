"""voxhub: the daemon (settings, voice library, scheduler, audio, text, HTTP API, CLI, the Hub facade)."""

__version__ = "0.1.0"
