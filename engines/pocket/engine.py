"""The Pocket TTS engine: Kyutai's 100 M-parameter torch model, zero-shot cloning from a reference clip.

Config keys (`[engines.pocket]`; values may be strings when they come from the environment):
  model_dir    where `voxhub models pull pocket-tts` puts config.yaml, the weights, tokenizer and preset voices;
               empty = DATA_DIR/models/pocket-tts
  device       auto | cpu | cuda (auto: cuda when torch sees a GPU)
  half, compile
               GPU only: half precision, torch.compile of the flow LM (both applied lazily, at load)
  threads      torch CPU threads (1 was fastest on 2 cores)
  temperature, eos_threshold
               sampling temperature and end-of-speech threshold; empty = the model config's own

A cloned voice's state (its reference clip encoded by Mimi and run through the LM) costs about a second, so
`prepare_voice` returns it as exported safetensors bytes and the hub caches it per voice in the library;
preset voices are the `voices/NAME.safetensors` states the pull installs. Audio streams frame by frame
(80 ms at 24 kHz) and a cancelled request stops within one frame (the package's `stop` event).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import ConfigError, EngineError
from engines.core.interface import (
    AudioChunk,
    Engine,
    EngineInfo,
    StopCheck,
    SynthesisRequest,
    VoiceInfo,
    VoiceReference,
)
from engines.core.options import Option, parse_config, parse_options
from engines.core.pcm import chunk as pcm_chunk
from engines.pocket.models import MODEL_NAME, default_model_dir, effective_config, missing_message

log = logging.getLogger(__name__)

ENGINE_VERSION = "1"
"""Bump whenever voice states or audio for the same input could change."""
RATE = 24000
STATE_CACHE = 8
"""Voice states kept in memory, most recently used first (each is a few MB)."""

CONFIG = (
    Option("model_dir", "str", "", "model files (empty = DATA_DIR/models/pocket-tts)"),
    Option("device", "str", "auto", "where the model runs", choices=("auto", "cpu", "cuda")),
    Option("half", "bool", False, "half precision (GPU only)"),
    Option("compile", "bool", False, "torch.compile the flow LM (GPU only)"),
    Option("threads", "int", 1, "torch CPU threads", min=1),
    Option("temperature", "float", None, "sampling temperature (empty = the model's)", min=0, max=2),
    Option("eos_threshold", "float", None, "end-of-speech threshold (empty = the model's)"),
    Option(
        "frames_after_eos", "int", None, "frames spoken after end of speech (empty = from the text)", min=0
    ),
)


class PocketEngine(Engine):
    """Pocket TTS (see the module docstring for config and behaviour)."""

    OPTIONS = (
        Option("temperature", "float", None, "sampling temperature: higher is livelier, lower steadier",
               min=0, max=2),
        Option("frames_after_eos", "int", None, "80 ms frames kept after the end of speech", min=0, max=25),
    )  # fmt: skip
    REQUIREMENTS = ("pocket-tts==4.0.1", "torch==2.13.0", "einops", "safetensors", "sentencepiece", "tokenizers",
                    "scipy", "pyyaml", "huggingface-hub", "numpy")  # fmt: skip

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.settings = parse_config(CONFIG, config, "engines.pocket")
        configured = str(self.settings["model_dir"] or "")
        self.model_dir = Path(configured).expanduser() if configured else default_model_dir()
        if not (self.model_dir / "config.yaml").is_file():
            raise ConfigError(missing_message(self.model_dir))
        if (self.settings["half"] or self.settings["compile"]) and self.settings["device"] == "cpu":
            raise ConfigError("engines.pocket.half and engines.pocket.compile need a GPU: set device = \"cuda\" "
                              "(or \"auto\" on a machine with one), or switch them off")  # fmt: skip
        self.config_path, self.cloning = effective_config(self.model_dir)
        self.model: Any = None
        self._states: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    # -- voices -------------------------------------------------------------------------------------------

    def presets(self) -> dict[str, Path]:
        """Preset voices: exported states under model_dir/voices."""
        folder = self.model_dir / "voices"
        return {p.stem: p for p in sorted(folder.glob("*.safetensors"))} if folder.is_dir() else {}

    def info(self) -> EngineInfo:
        voices = tuple(VoiceInfo(name=name, engine="pocket", languages=("en",), description=f"Pocket TTS {name}",
                                 sample_rate=RATE, attribution="Kyutai, CC-BY-4.0") for name in self.presets())  # fmt: skip
        s = self.settings
        version = f"{ENGINE_VERSION}/{self.model_dir.name}/temp={s['temperature']}/eos={s['eos_threshold']}"
        mode = "zero-shot cloning" if self.cloning else "preset voices only (no cloning checkpoint)"
        return EngineInfo(name="pocket", version=version, cloning=self.cloning, voices=voices,
                          description=f"Pocket TTS on torch ({mode})", options=self.OPTIONS, sample_rate=RATE)  # fmt: skip

    # -- model --------------------------------------------------------------------------------------------

    def load(self) -> Any:
        """The model, loaded on first use (the worker's warm-up calls this before any request)."""
        with self._lock:
            if self.model is None:
                self.model = self._load()
            return self.model

    def _load(self) -> Any:
        import torch
        from pocket_tts import TTSModel

        torch.set_num_threads(int(self.settings["threads"]))
        device = self.settings["device"]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError('engines.pocket.device = "cuda" but torch sees no GPU: use "auto" or "cpu"')
        kwargs = {
            k: self.settings[k] for k in ("temperature", "eos_threshold") if self.settings[k] is not None
        }
        if "temperature" in kwargs:
            kwargs["temp"] = kwargs.pop("temperature")
        model = TTSModel.load_model(config=str(self.config_path), **kwargs)
        model = model.to(device).eval()
        if device == "cuda" and self.settings["half"]:
            model.flow_lm.half()
        if device == "cuda" and self.settings["compile"]:
            model.flow_lm = torch.compile(model.flow_lm)
        log.info("pocket: model loaded on %s (cloning %s)", device, "on" if self.cloning else "off")
        return model

    def warm_up(self) -> None:
        """Load the model and speak a few frames, so the first request pays for neither."""
        model = self.load()
        presets = self.presets()
        if presets:
            state = self._state_from_file(next(iter(presets.values())))
            stop = threading.Event()
            for _ in model.generate_audio_stream(state, "Ready.", stop=stop):
                stop.set()

    def _state_from_file(self, path: Path) -> Any:
        return self.load().get_state_for_audio_prompt(path)

    def _state(self, key: str, load: Any) -> Any:
        with self._lock:
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
                return state
        state = load()
        with self._lock:
            self._states[key] = state
            while len(self._states) > STATE_CACHE:
                self._states.popitem(last=False)
        return state

    # -- cloning ------------------------------------------------------------------------------------------

    def prepare_voice(self, reference: VoiceReference) -> bytes:
        """Encode the reference clip (no transcript needed) and return the voice state as safetensors bytes."""
        if not self.cloning:
            raise EngineError(
                f"voice {reference.name!r} cannot be cloned: the Pocket TTS cloning checkpoint is not installed. "
                "Accept the terms on https://huggingface.co/kyutai/pocket-tts, then run `voxhub models pull "
                f"{MODEL_NAME} --token YOUR_TOKEN`; preset voices work without it", param="voice")  # fmt: skip
        import torch
        from pocket_tts import export_model_state
        from pocket_tts.data.audio_utils import convert_audio

        audio = torch.from_numpy(np.frombuffer(reference.audio, dtype="<f4").copy())[None, :]
        if reference.rate != RATE:
            audio = convert_audio(audio, reference.rate, RATE, 1)
        model = self.load()
        state = model.get_state_for_audio_prompt(audio)
        with tempfile.TemporaryDirectory(prefix="voxhub-pocket-") as tmp:
            path = Path(tmp) / "state.safetensors"
            export_model_state(state, path)
            data = path.read_bytes()
        log.info("pocket: prepared voice %s (%d kB state)", reference.name, len(data) // 1024)
        return data

    def _cloned_state(self, prompt: bytes) -> Any:
        def load() -> Any:
            with tempfile.TemporaryDirectory(prefix="voxhub-pocket-") as tmp:
                path = Path(tmp) / "state.safetensors"
                path.write_bytes(prompt)
                return self._state_from_file(path)

        return self._state(hashlib.sha256(prompt).hexdigest(), load)

    # -- synthesis ----------------------------------------------------------------------------------------

    def synthesize(self, request: SynthesisRequest, should_stop: StopCheck) -> Iterator[AudioChunk]:
        """Check now (voice, options), then yield one chunk per decoded frame."""
        options = parse_options(self.OPTIONS, request.options, "pocket")
        presets = self.presets()
        if request.prompt is not None:
            state = self._cloned_state(request.prompt)
        elif request.voice in presets:
            state = self._state(
                f"preset:{request.voice}", lambda: self._state_from_file(presets[request.voice])
            )
        else:
            names = ", ".join(presets) or "none installed"
            raise EngineError(f"pocket has no preset voice {request.voice!r} (presets: {names}); enroll a cloned "
                              "voice or pick a preset", param="voice")  # fmt: skip
        return self._generate(state, request.text, options, should_stop)

    def _generate(
        self, state: Any, text: str, options: dict[str, Any], should_stop: StopCheck
    ) -> Iterator[AudioChunk]:
        model = self.load()
        # The worker's Stop is a threading.Event: the package checks it between frames.
        stop = should_stop if isinstance(should_stop, threading.Event) else threading.Event()
        default_temp = model.temp
        if options.get("temperature") is not None:
            model.temp = float(options["temperature"])
        try:
            stream = model.generate_audio_stream(state, text, frames_after_eos=options.get("frames_after_eos"),
                                                 stop=stop)  # fmt: skip
            for frame in stream:
                if should_stop():
                    stop.set()
                    continue  # drain: the package's threads end at the next frame
                yield pcm_chunk(frame.detach().float().cpu().numpy(), RATE)
        finally:
            model.temp = default_temp

    def close(self) -> None:
        with self._lock:
            self.model = None
            self._states.clear()


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the tokenizer runs in the worker's threads
