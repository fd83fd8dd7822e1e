"""Engines on this machine: first audio, real-time factor and peak memory, through the daemon's HTTP API.

Pocket TTS runs twice in the same run: the package called directly in this process (the anchor), and the
engine inside voxhub (HTTP -> hub -> worker pipe -> engine), so the added cost is a ratio measured under the
same load. Without the released weights it uses the full-size English config with random weights (109.5 M
parameters; random weights cost what trained ones do; EOS never fires, so both sides speak the same
length). Its voice is cloned from a 5 s clip. Piper speaks its offline voice (it does not clone).

    python bench/engines_bench.py [--runs 3] [--text "..."] [--pocket-model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import http_speech
from tests.conftest import start_daemon
from tests.integration.test_http_guard import multipart, raw, tone_wav

TEXT = "The kettle is boiling, so please come down and make the tea."
RATE = 24000


def speak(url: str, voice: str, text: str) -> tuple[float, float, int]:
    """(first audio byte s, total s, audio bytes) of one streamed pcm request."""
    return http_speech(url, text, "pcm", voice=voice, timeout=300)


def worker_peak_mb(daemon_url: str, engine: str) -> float:
    with urllib_open(f"{daemon_url}/health") as health:
        pid = json.load(health)["engines"][engine]["workers"][0]["pid"]
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def urllib_open(url: str):  # type: ignore[no-untyped-def]
    import urllib.request

    return urllib.request.urlopen(url, timeout=60)


def clip_wav(seconds: float = 5.0) -> bytes:
    return tone_wav(seconds=seconds, pitch=150.0)


class PocketDirect:
    """The package itself, in this process: load, clone from the same 5 s clip, stream the text."""

    def __init__(self, config: Path) -> None:
        import torch
        from pocket_tts import TTSModel

        self.model = TTSModel.load_model(config=str(config))
        t = np.arange(5 * RATE) / RATE
        clip = torch.from_numpy((0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32))[None, :]
        started = time.perf_counter()
        self.state = self.model.get_state_for_audio_prompt(clip)
        self.prompt_s = time.perf_counter() - started

    def speak(self, text: str) -> tuple[float, float, float]:
        """(first audio s, total s, audio s)."""
        started, first, samples = time.perf_counter(), None, 0
        for chunk in self.model.generate_audio_stream(self.state, text):
            first = first if first is not None else time.perf_counter() - started
            samples += chunk.shape[-1]
        return first or 0.0, time.perf_counter() - started, samples / RATE


def through_daemon(engine: str, env: dict[str, str], voice: str, clone: bool, text: str, runs: int,
                   anchor: PocketDirect | None = None) -> tuple[dict[str, float], dict[str, float]]:  # fmt: skip
    """Requests through HTTP; with an `anchor`, each is followed by the same text through the package directly
    (alternating, so both see the same machine load)."""
    with tempfile.TemporaryDirectory(prefix=f"voxhub-bench-{engine}-") as tmp:
        daemon = start_daemon(Path(tmp) / "data", env=env, timeout=300)
        try:
            if clone:
                body, ctype = multipart({"name": voice, "consent": "true"}, clip_wav())
                assert raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})[0] == 201
            via: dict[str, list[float]] = {"first": [], "rtf": []}
            direct: dict[str, list[float]] = {"first": [], "rtf": []}
            for _ in range(runs + 1):  # the first round prepares the voice state and warms up
                first, total, size = speak(daemon.url, voice, text)
                via["first"].append(first)
                via["rtf"].append(total / (size / 2 / RATE_OF[engine]))
                if anchor is not None:
                    first, total, seconds = anchor.speak(text)
                    direct["first"].append(first)
                    direct["rtf"].append(total / seconds)
            peak = worker_peak_mb(daemon.url, engine)
        finally:
            daemon.stop()
    result = {k: statistics.median(v[1:]) for k, v in via.items()} | {"peak_mb": peak}
    anchored = {k: statistics.median(v[1:]) for k, v in direct.items() if v}
    if anchored:
        anchored["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result, anchored


RATE_OF = {"pocket": 24000, "piper": 22050}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--text", default=TEXT)
    parser.add_argument(
        "--pocket-model", type=Path, default=None, help="a model dir with config.yaml (real weights)"
    )
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    rows: list[tuple[str, dict[str, float]]] = []

    base = {"VOXHUB_ENROLL__ANALYZE": "false", "VOXHUB_CACHE__ENABLED": "false", "HF_HUB_OFFLINE": "1"}
    piper, _ = through_daemon("piper", base, "en_US-joe-medium", False, args.text, args.runs)
    rows.append(("piper (en_US-joe-medium, preset) via HTTP", piper))
    with tempfile.TemporaryDirectory(prefix="voxhub-bench-pocket-model-") as tmp:
        model_dir = args.pocket_model
        label = "real weights"
        if model_dir is None:
            from tests.pocket_model import full_size

            model_dir = Path(tmp)
            full_size(model_dir, words=tuple(args.text.replace(",", " ").replace(".", " ").split()))
            label = "full-size English config, random weights"
        anchor = PocketDirect(model_dir / "config.yaml")
        env = {**base, "VOXHUB_ENGINES__PIPER__ENABLED": "false", "VOXHUB_ENGINES__POCKET__ENABLED": "true",
               "VOXHUB_ENGINES__POCKET__MODEL_DIR": str(model_dir), "VOXHUB_VOICES__DEFAULT": "anna"}  # fmt: skip
        via, direct = through_daemon("pocket", env, "anna", True, args.text, args.runs, anchor)
        rows.append((f"pocket direct (package, {label}, cloned)", direct))
        rows.append((f"pocket via HTTP (voxhub, {label}, cloned)", via))
    print(f"{'engine':<58} {'first audio':>11} {'RTF':>6} {'peak MB':>8}")
    for name, r in rows:
        print(f"{name:<58} {r['first']:>10.3f}s {r['rtf']:>6.2f} {r['peak_mb']:>8.0f}")
    print(f"pocket voice prompt from a 5 s clip (package): {anchor.prompt_s:.2f} s")
    print(
        f"pocket added by voxhub: first audio {via['first'] / direct['first'] - 1:+.0%}, RTF {via['rtf'] / direct['rtf'] - 1:+.0%}"
    )


if __name__ == "__main__":
    threading.stack_size(0)
    main()
