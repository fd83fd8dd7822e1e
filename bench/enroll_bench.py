"""Enrollment latency of a 10 s clip on CPU, split by stage (decode, VAD, ASR, embedding, check).

    python bench/enroll_bench.py --rounds 5

The clip is 10 s of the offline Piper voice as a WAV file. Each round runs the whole enrollment
analysis (`hub.quality.clip.analyze`, what `Hub.enroll` does before its one library write) and, alternating
with it, the anchor: faster-whisper's Whisper base transcribing the same 10 s directly (its default
beam search of 5, language detection on), as a plain script would. Model loading is reported once,
separately. The machine is shared, so ratios to the anchor count more than seconds.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engines.core.interface import SynthesisRequest
from engines.piper.engine import PiperEngine
from hub.audio import resample
from hub.quality.clip import Toolkit, analyze
from hub.settings import load_settings

TEXT = (
    "The quick brown fox jumps over the lazy dog. Dinner is ready, so please come to the kitchen table "
    "now. The weather tomorrow will be sunny with a light breeze from the west. "
    "Thank you very much."
)


def clip() -> bytes:
    """About 10 s of the offline Piper voice, as a 22.05 kHz WAV file."""
    engine = PiperEngine({})
    chunks = list(engine.synthesize(SynthesisRequest(text=TEXT, voice="en_US-joe-medium"), lambda: False))
    pcm = np.concatenate([np.frombuffer(c.audio, dtype="<i2") for c in chunks])
    out = io.BytesIO()
    sf.write(out, pcm[: 10 * chunks[0].rate], chunks[0].rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (after one warm-up)")
    args = parser.parse_args()
    data = clip()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={"VOXHUB_DATA_DIR": tmp})
        tools = Toolkit(settings)
        started = time.perf_counter()
        tools.vad.probabilities(np.zeros(16000, np.float32))
        tools.speaker.load()
        tools.asr.load()
        load_s = time.perf_counter() - started
        from faster_whisper import WhisperModel

        anchor_model = WhisperModel(str(tools.asr.model_path), device="cpu", compute_type="int8")
        samples, rate = sf.read(io.BytesIO(data), dtype="float32")
        x16 = resample(samples, rate, 16000)

        def anchor() -> float:
            t = time.perf_counter()
            segments, _ = anchor_model.transcribe(x16)
            list(segments)
            return time.perf_counter() - t

        analyze(tools, data)  # warm-up
        anchor()
        totals, anchors, stages = [], [], {k: [] for k in ("decode", "vad", "asr", "embedding", "check")}
        for _ in range(args.rounds):
            t = time.perf_counter()
            result = analyze(tools, data)
            totals.append(time.perf_counter() - t)
            for stage, seconds in result.timings.items():
                stages[stage].append(seconds)
            anchors.append(anchor())
    med = statistics.median
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}, rounds: {args.rounds}")
    print(
        f"clip: {len(samples) / rate:.2f} s; verdict {result.report.verdict}; transcript: {result.transcript!r}"
    )
    print(f"model loading (VAD + speaker encoder + Whisper base), once: {load_s:.2f} s")
    print("| stage | median s |\n|---|---|")
    for stage, values in stages.items():
        print(f"| {stage} | {med(values):.3f} |")
    print(f"| **end to end** | **{med(totals):.2f}** (min {min(totals):.2f}, max {max(totals):.2f}) |")
    print(f"| anchor: faster-whisper base, defaults, same clip | {med(anchors):.2f} |")
    print(f"| end to end / anchor | {med(totals) / med(anchors):.2f} |")


if __name__ == "__main__":
    main()
