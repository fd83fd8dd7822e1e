"""The ZipVoice engine: zero-shot cloning with ZipVoice / ZipVoice-Distill on onnxruntime (or TensorRT).

Config keys (`[engines.zipvoice]`; values may be strings when they come from the environment):
  model       zipvoice | zipvoice-distill
  precision   fp32 | int8 (int8: faster on the CPU, a little lower quality)
  runtime     cpu | cuda | tensorrt | tensorrt-native (see engines/zipvoice/runtimes.py)
  steps, guidance
              sampler steps and guidance scale; 0 / empty = the model's defaults (16 / 1.0 for zipvoice,
              8 / 3.0 for zipvoice-distill)
  speed       multiplies every request's speed
  seed        noise seed: the same text, voice and seed give the same audio
  t_shift     time-shift of the sampling schedule (0.5)
  threads     onnxruntime intra-op threads (0 = onnxruntime's choice)
  model_dir   where `voxhub models pull` puts the files; empty = DATA_DIR/models/zipvoice
  vocoder     path of the Vocos ONNX vocoder; empty = MODEL_DIR/vocos_24khz.onnx
  max_batch   largest batch the TensorRT decoder is built for

Requests may override `steps`, `guidance` and `seed` in their options. A cloned voice's prompt (transcript
tokens and features) is prepared once and cached by the hub in the voice library.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import ConfigError, EngineError
from engines.core.interface import AudioChunk, Engine, EngineInfo, StopCheck, SynthesisRequest, VoiceReference
from engines.core.options import Option, parse_config, parse_options
from engines.zipvoice import features as feats
from engines.zipvoice.models import PRECISIONS, check_choice, default_model_dir, missing_message, model_paths
from engines.zipvoice.pipeline import (
    CROSS_FADE_S,
    MAX_CHUNK_SECONDS,
    Pipeline,
    Prompt,
    chunk_tokens,
    cross_fade,
)
from engines.zipvoice.runtimes import RUNTIMES, check_runtime

log = logging.getLogger(__name__)

ENGINE_VERSION = "1"
"""Bump whenever prompts or audio for the same input could change (tokenizer, features, sampler, ...)."""
DEFAULTS = {"zipvoice": (16, 1.0), "zipvoice-distill": (8, 3.0)}
"""Published defaults per model: (steps, guidance)."""
MAX_PROMPT_SECONDS = 20.0
RATE = feats.SAMPLE_RATE


CONFIG = (
    Option("model", "str", "zipvoice-distill", "the model", choices=tuple(DEFAULTS)),
    Option(
        "precision",
        "str",
        "fp32",
        "int8: faster on the CPU, a little lower quality",
        choices=tuple(PRECISIONS),
    ),
    Option("runtime", "str", "cpu", "where the decoder runs", choices=tuple(RUNTIMES)),
    Option("steps", "int", 0, "sampler steps (0 = the model's default)", min=0),
    Option("guidance", "float", None, "guidance scale (empty = the model's default)", min=0),
    Option("speed", "float", 1.0, "multiplies every request's speed", min=0),
    Option("seed", "int", 666, "noise seed"),
    Option("t_shift", "float", 0.5, "time-shift of the sampling schedule, in (0, 1]", min=0, max=1),
    Option("threads", "int", 0, "onnxruntime intra-op threads (0 = onnxruntime's choice)", min=0),
    Option("model_dir", "str", "", "where `voxhub models pull` puts the files"),
    Option("vocoder", "str", "", "path of the Vocos ONNX vocoder"),
    Option("max_batch", "int", 4, "largest batch the TensorRT decoder is built for", min=1),
)
"""`[engines.zipvoice]` keys, checked by the same rule as request options."""


@dataclass(frozen=True)
class ZipVoiceOptions:
    """`[engines.zipvoice]`, typed."""

    model: str = "zipvoice-distill"
    precision: str = "fp32"
    runtime: str = "cpu"
    steps: int = 0
    guidance: float | None = None
    speed: float = 1.0
    seed: int = 666
    t_shift: float = 0.5
    threads: int = 0
    model_dir: str = ""
    vocoder: str = ""
    max_batch: int = 4

    @classmethod
    def parse(cls, values: Mapping[str, Any], prefix: str = "engines.zipvoice") -> ZipVoiceOptions:
        """Coerce (environment strings included) and check; ConfigError names the key and the fix."""
        options = cls(**parse_config(CONFIG, values, prefix))
        check_choice(f"{prefix}.model", options.model, list(DEFAULTS))
        check_choice(f"{prefix}.precision", options.precision, PRECISIONS)
        check_choice(f"{prefix}.runtime", options.runtime, RUNTIMES)
        if options.precision == "int8" and options.runtime.startswith("tensorrt"):
            raise ConfigError(f"{prefix}.precision = \"int8\" is for the CPU: TensorRT builds fp16 from the fp32 "
                              "files, so set precision = \"fp32\" with a tensorrt runtime")  # fmt: skip
        if not (options.speed > 0 and 0 < options.t_shift <= 1):
            raise ConfigError(f"{prefix}.speed must be > 0 and {prefix}.t_shift in (0, 1]")
        return options

    def resolved(self) -> ZipVoiceOptions:
        """With the model's default steps and guidance filled in."""
        steps, guidance = DEFAULTS[self.model]
        return replace(
            self, steps=self.steps or steps, guidance=guidance if self.guidance is None else self.guidance
        )


class ZipVoiceEngine(Engine):
    """ZipVoice cloning (see the module docstring for config and behaviour)."""

    REQUIREMENTS = ("numpy>=1.26", "onnxruntime>=1.17", "espeakng-loader>=0.2", "phonemizer-fork>=3.3",
                    "huggingface_hub>=0.24", "pypinyin>=0.48")  # fmt: skip
    OPTIONS = (
        Option("steps", "int", None, "sampler steps (default: the engine's config)", min=1, max=64),
        Option("guidance", "float", None, "classifier-free guidance scale", min=0, max=20),
        Option("seed", "int", None, "noise seed: the same text, voice and seed give the same audio", min=0),
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.options = ZipVoiceOptions.parse(config).resolved()
        model_dir = (
            Path(self.options.model_dir).expanduser() if self.options.model_dir else default_model_dir()
        )
        vocoder = Path(self.options.vocoder).expanduser() if self.options.vocoder else None
        self.model_dir = model_dir
        self.paths = model_paths(model_dir, self.options.model, self.options.precision, vocoder)
        check_runtime(self.options.runtime)
        if self.paths.missing():
            raise ConfigError(missing_message(model_dir, self.options.model, self.options.precision))
        self.pipeline = Pipeline(self.paths, runtime=self.options.runtime, threads=self.options.threads,
                                 cache_dir=model_dir / "tensorrt", max_batch=self.options.max_batch)  # fmt: skip

    def info(self) -> EngineInfo:
        o = self.options
        # Everything that changes prompts or audio is in the version: the hub keys both caches by it.
        version = (f"{ENGINE_VERSION}/{o.model}/{o.precision}/{o.runtime}/steps={o.steps}/cfg={o.guidance:g}/"
                   f"seed={o.seed}/shift={o.t_shift:g}/speed={o.speed:g}")  # fmt: skip
        return EngineInfo(name="zipvoice", version=version, cloning=True, voices=(), options=self.OPTIONS, sample_rate=RATE,
                          description=f"ZipVoice zero-shot cloning ({o.model}, {o.precision}, {o.runtime})")  # fmt: skip

    def prepare_voice(self, reference: VoiceReference) -> bytes:
        if not reference.transcript.strip():
            raise EngineError(
                f"voice {reference.name!r} has no transcript: ZipVoice needs the words spoken in the reference "
                f"clip; enroll it again with one (voxhub voices add {reference.name} CLIP --transcript TEXT "
                "--replace)", param="transcript")  # fmt: skip
        audio = np.frombuffer(reference.audio, dtype="<f4")
        prompt = self.pipeline.prepare(audio, reference.rate, reference.transcript)
        if len(prompt.ids) == 0:
            raise EngineError(f"the transcript of voice {reference.name!r} gives no tokens: give it in English or "
                              "Chinese words", param="transcript")  # fmt: skip
        if prompt.seconds > MAX_PROMPT_SECONDS:
            raise EngineError(f"voice {reference.name!r}: the reference has {prompt.seconds:.1f} s of speech; ZipVoice "
                              f"needs at most {MAX_PROMPT_SECONDS:g} s: enroll a shorter clip", param="voice")  # fmt: skip
        log.info("zipvoice: prepared prompt for voice %s (%d tokens, %.2f s)", reference.name,
                 len(prompt.ids), prompt.seconds)  # fmt: skip
        return prompt.to_bytes()

    def synthesize(self, request: SynthesisRequest, should_stop: StopCheck) -> Iterator[AudioChunk]:
        """Check now (no prompt, bad options → EngineError), then yield audio chunk by chunk."""
        if request.prompt is None:
            raise EngineError(f"zipvoice has no preset voices: {request.voice!r} must be a cloned voice "
                              "(POST /v1/voices or voxhub voices add)", param="voice")  # fmt: skip
        try:
            prompt = Prompt.from_bytes(request.prompt)
        except ValueError as exc:
            raise EngineError(f"the cached prompt of voice {request.voice!r} is unusable ({exc}); enroll it "
                              "again", param="voice") from None  # fmt: skip
        o = self.options
        speed = float(request.speed) * o.speed
        if not (math.isfinite(speed) and speed > 0):
            raise EngineError(f"speed must be a positive number, got {request.speed!r}", param="speed")
        given = parse_options(
            self.OPTIONS, request.options, "zipvoice"
        )  # the hub checked; direct callers too
        settings = {
            "steps": int(_first(given.get("steps"), o.steps)),
            "guidance": float(_first(given.get("guidance"), o.guidance)),
            "seed": int(_first(given.get("seed"), o.seed)),
        }
        with self.pipeline.timed("tokenize"):
            tokens, _ = self.pipeline.tokenizer.encode(request.text)
        return self._generate(prompt, tokens, speed, settings, should_stop)

    def _generate(self, prompt: Prompt, tokens: list[str], speed: float, settings: dict[str, Any],
                  should_stop: StopCheck) -> Iterator[AudioChunk]:  # fmt: skip
        if not tokens:
            return
        token_seconds = prompt.seconds / (len(prompt.ids) * speed)
        max_tokens = max(1, int((MAX_CHUNK_SECONDS - prompt.seconds) / token_seconds))
        chunks = chunk_tokens(tokens, max_tokens)
        fade = int(CROSS_FADE_S * RATE)
        table = self.pipeline.tokenizer.table
        pending: np.ndarray | None = None
        for index, chunk in enumerate(chunks):
            if should_stop():
                return
            audio = self.pipeline.generate(prompt, [table[t] for t in chunk], speed=speed, shift=self.options.t_shift,
                                           steps=settings["steps"], guidance=settings["guidance"],
                                           seed=settings["seed"] + index)  # fmt: skip
            if pending is None:  # upstream trims the edges of the joined audio: here, the first start
                pending = audio[feats.edge_bounds(audio, RATE)[0] :]
                continue
            # Hold back the tail of each chunk until the next one arrives, then cross-fade them.
            n = min(fade, len(pending), len(audio))
            ready = pending[: len(pending) - n]
            pending = np.concatenate([cross_fade(pending[len(pending) - n :], audio[:n]), audio[n:]])
            if len(ready):
                yield _chunk(ready)
        if pending is not None:  # ... and the last end
            last = feats.edge_bounds(pending, RATE)[1]
            if last > 0:
                yield _chunk(pending[:last])

    def warm_up(self) -> None:
        """Open the encoder, decoder (a TensorRT engine may be built here) and vocoder before any request."""
        _ = self.pipeline.tokenizer, self.pipeline.decoder, self.pipeline.vocoder

    def close(self) -> None:
        self.pipeline = Pipeline(self.paths, runtime=self.options.runtime, threads=self.options.threads,
                                 cache_dir=self.model_dir / "tensorrt", max_batch=self.options.max_batch)  # fmt: skip


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def _chunk(audio: np.ndarray) -> AudioChunk:
    pcm = np.rint(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    return AudioChunk(rate=RATE, width=2, channels=1, audio=pcm.tobytes())
