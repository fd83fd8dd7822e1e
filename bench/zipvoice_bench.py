"""ZipVoice pipeline benchmark: time per stage, and the pipeline's own overhead outside the ONNX sessions.

No official weights can be downloaded here, so the decoder is a full-size stand-in of ZipVoice-Distill's
size (about 118M parameters, Zipformer-like downsampled stacks, the official I/O) and the vocoder one of
Vocos' size (about 13M); the text encoder is small (it runs once per sentence). Random weights time the
same as trained ones. CPU fp32 vs int8 (onnxruntime `quantize_dynamic` on MatMul, the official recipe).

    python bench/zipvoice_bench.py [--steps 4] [--runs 3] [--threads 0] [--precisions fp32,int8] [--runtime cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engines.core.interface import SynthesisRequest, VoiceReference
from engines.zipvoice.engine import ZipVoiceEngine
from tests.engines.test_zipvoice_dsp import speechlike
from tests.zipvoice_graphs import (
    parameters,
    quantize,
    standin_decoder,
    standin_vocoder,
    text_encoder,
    tokens_table,
    write_tokens,
)

TRANSCRIPT = "The front door is open. Please close it before the cat runs out."
TEXT = "Dinner is ready, so please come down to the kitchen before the soup gets cold."
SESSIONS = ("encoder", "decoder_step", "vocoder")


def build(root: Path, precisions: list[str]) -> dict[str, int]:
    """Write the stand-in model files in the layout `voxhub models pull` uses; returns parameter counts."""
    folder = root / "zipvoice_distill"
    folder.mkdir(parents=True, exist_ok=True)
    table = tokens_table()
    write_tokens(folder / "tokens.txt", table)
    encoder = text_encoder(max(table.values()) + 1, table["_"], hidden=512)
    decoder, vocoder = standin_decoder(), standin_vocoder()
    onnx.save(encoder, folder / "text_encoder.onnx")
    onnx.save(decoder, folder / "fm_decoder.onnx")
    onnx.save(vocoder, root / "vocos_24khz.onnx")
    if "int8" in precisions:
        for name in ("text_encoder", "fm_decoder"):
            quantize(folder / f"{name}.onnx", folder / f"{name}_int8.onnx")
    return {"encoder": parameters(encoder), "decoder": parameters(decoder), "vocoder": parameters(vocoder)}


def run(
    model_dir: Path, precision: str, steps: int, runs: int, threads: int, runtime: str
) -> dict[str, float]:
    """Median milliseconds per stage for one sentence (after one warm-up), and the prompt preparation."""
    engine = ZipVoiceEngine(
        {
            "model_dir": str(model_dir),
            "precision": precision,
            "steps": steps,
            "threads": threads,
            "runtime": runtime,
        }
    )
    pipeline = engine.pipeline
    clip = np.concatenate([np.zeros(6000, np.float32), speechlike(3.0), np.zeros(12000, np.float32)])
    reference = VoiceReference("bench", clip.astype("<f4").tobytes(), 24000, TRANSCRIPT)
    engine.prepare_voice(reference)  # loads the encoder session and espeak
    pipeline.timings.clear()
    started = time.perf_counter()
    prompt = engine.prepare_voice(reference)
    prepare_ms = (time.perf_counter() - started) * 1000
    prepare = {k: v[0] * 1000 for k, v in pipeline.timings.items()}
    request = SynthesisRequest(TEXT, "bench", prompt=prompt)
    list(engine.synthesize(request, lambda: False))  # warm-up: decoder and vocoder sessions
    totals, per_run = [], []
    for _ in range(runs):
        pipeline.timings.clear()
        started = time.perf_counter()
        audio = b"".join(c.audio for c in engine.synthesize(request, lambda: False))
        totals.append((time.perf_counter() - started) * 1000)
        per_run.append(
            {k: sum(v) * 1000 for k, v in pipeline.timings.items()}
            | {"steps": len(pipeline.timings["decoder_step"])}
        )
    stage = {k: statistics.median(r[k] for r in per_run) for k in per_run[0]}
    total = statistics.median(totals)
    sessions = sum(stage[k] for k in SESSIONS)
    return {"prepare_ms": prepare_ms, "prepare_tokenize": prepare.get("tokenize", 0.0),
            "prepare_features": prepare.get("prompt_features", 0.0), "tokenize": stage["tokenize"],
            "encoder": stage["encoder"], "decoder_step": stage["decoder_step"] / stage["steps"],
            "decoder": stage["decoder_step"], "vocoder": stage["vocoder"], "istft": stage["istft"], "total": total,
            "overhead": total - sessions, "overhead_pct": 100 * (total - sessions) / total,
            "audio_s": len(audio) / 2 / 24000}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--steps", type=int, default=4, help="sampler steps (Distill: 8 default, 4 recommended)"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per precision (after one warm-up)")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = default)")
    parser.add_argument("--precisions", default="fp32,int8", help="comma-separated: fp32,int8")
    parser.add_argument(
        "--runtime", default="cpu", help="cpu, cuda, tensorrt or tensorrt-native (GPU: fp32 only)"
    )
    args = parser.parse_args()
    precisions = args.precisions.split(",")
    with tempfile.TemporaryDirectory(prefix="zipvoice-bench-") as tmp:
        started = time.perf_counter()
        counts = build(Path(tmp), precisions)
        print(f"built stand-ins in {time.perf_counter() - started:.0f} s: decoder {counts['decoder'] / 1e6:.1f}M, "
              f"vocoder {counts['vocoder'] / 1e6:.1f}M, encoder {counts['encoder'] / 1e6:.2f}M parameters")  # fmt: skip
        results = {
            p: run(Path(tmp), p, args.steps, args.runs, args.threads, args.runtime) for p in precisions
        }
    rows = [("prepare voice (once, cached)", "prepare_ms"), ("  tokenize transcript", "prepare_tokenize"),
            ("  prompt features", "prepare_features"), ("tokenize text", "tokenize"), ("text encoder", "encoder"),
            ("decoder, per step", "decoder_step"), (f"decoder, {args.steps} steps", "decoder"),
            ("vocoder session", "vocoder"), ("inverse STFT", "istft"), ("sentence total", "total"),
            ("overhead outside sessions", "overhead")]  # fmt: skip
    print(f"\n{args.steps} steps, {results[precisions[0]]['audio_s']:.2f} s of audio per sentence, 3 s prompt "
          f"(median of {args.runs} runs, ms)\n")  # fmt: skip
    print("| stage | " + " | ".join(precisions) + " |")
    print("|---|" + "---:|" * len(precisions))
    for label, key in rows:
        print(f"| {label} | " + " | ".join(f"{results[p][key]:.1f}" for p in precisions) + " |")
    print(
        "| overhead share of total | "
        + " | ".join(f"{results[p]['overhead_pct']:.2f} %" for p in precisions)
        + " |"
    )
    print(
        "| real-time factor | "
        + " | ".join(f"{results[p]['total'] / 1000 / results[p]['audio_s']:.2f}" for p in precisions)
        + " |"
    )
    if len(precisions) == 2:
        ratio = results[precisions[0]]["total"] / results[precisions[1]]["total"]
        print(f"\n{precisions[1]} vs {precisions[0]}: {ratio:.2f}x faster per sentence")
    return 0


if __name__ == "__main__":
    sys.exit(main())
