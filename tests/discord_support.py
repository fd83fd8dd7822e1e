"""The Discord stand-in wired to a real daemon: env for the adapter, helpers shared by tests and the bench."""

from __future__ import annotations

import contextlib
import io
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tests.conftest import Daemon, start_daemon
from tests.discord_standin import GUILDS, Standin, make_test_ca

TOKEN = "test-bot-token"
NO_OPUS = (
    "libopus is not installed (Debian: apt-get install libopus0): discord.py cannot encode voice without it"
)


def opus_loaded() -> bool:
    import discord.opus

    if not discord.opus.is_loaded():
        try:
            discord.opus._load_default()
        except Exception:
            return False
    return discord.opus.is_loaded()


def start_standin(workdir: Path) -> tuple[Standin, Path]:
    """The stand-in on free loopback ports and the CA bundle that makes its voice wss:// trusted."""
    ca, cert, key = make_test_ca(workdir / "tls")
    return Standin(token=TOKEN, cert=str(cert), key=str(key)).start(), ca


def discord_env(standin: Standin, ca: Path, token: str = TOKEN, **extra: str) -> dict[str, str]:
    env = {
        "VOXHUB_ADAPTERS__DISCORD__ENABLED": "true",
        "VOXHUB_ADAPTERS__DISCORD__TOKEN": token,
        "VOXHUB_ADAPTERS__DISCORD__API_URL": standin.api_url,
        "VOXHUB_ADAPTERS__DISCORD__GUILD_IDS": ",".join(str(g.id) for g in GUILDS),
        "VOXHUB_ADAPTERS__DISCORD__COOLDOWN_S": "0",
        # The voice websocket is wss:// with a certificate from the test CA: the daemon trusts it this way.
        "SSL_CERT_FILE": str(ca),
        # Attachments are served by the stand-in on loopback, which the hub's guarded fetch refuses otherwise.
        "VOXHUB_ENROLL__ALLOW_PRIVATE_URLS": "true",
    }
    env.update({f"VOXHUB_ADAPTERS__DISCORD__{k.upper()}": v for k, v in extra.items()})
    return env


def wait_ready(standin: Standin, daemon: Daemon, timeout: float = 60.0) -> None:
    """Until the bot has registered its commands and has the guilds (discord.py's on_ready): an interaction
    sent earlier would find no guild, hence no voice channel."""
    standin.wait(lambda: len(standin.registered) == len(GUILDS), timeout, "command registration")
    standin.wait(lambda: "discord: connected as" in daemon.log(), timeout, "the bot's on_ready")


@contextlib.contextmanager
def running_bot(
    workdir: Path, extra_env: dict[str, str] | None = None, **settings: str
) -> Iterator[tuple[Standin, Daemon]]:
    """A stand-in and the real daemon whose Discord adapter is logged in to it (commands registered)."""
    standin, ca = start_standin(workdir / "standin")
    try:
        daemon = start_daemon(
            workdir / "daemon", env={**discord_env(standin, ca, **settings), **(extra_env or {})}
        )
        try:
            wait_ready(standin, daemon)
            yield standin, daemon
        finally:
            daemon.stop()
    finally:
        standin.stop()


def speech(daemon_url: str, text: str, fmt: str = "wav", voice: str = "en_US-joe-medium") -> bytes:
    """Audio from the daemon's HTTP API (the anchor the adapter is compared with)."""
    body = json.dumps({"model": "tts-1", "input": text, "voice": voice, "response_format": fmt}).encode()
    request = urllib.request.Request(
        f"{daemon_url}/v1/audio/speech", body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return bytes(response.read())


def pcm_48k_mono(packets: list[object]) -> np.ndarray:
    """Decoded voice packets (48 kHz stereo s16) as one float mono signal."""
    pcm = b"".join(p.pcm for p in packets)  # type: ignore[attr-defined]
    stereo = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2).astype(np.float32) / 32768
    return stereo.mean(axis=1)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    out = io.BytesIO()
    sf.write(out, samples, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()
