"""A deterministic fake engine: tones instead of speech, for testing the hub's own plumbing.

Each sentence becomes a tone whose length follows the text length and whose pitch follows the voice
(or the cloned voice's prompt), so tests can tell voices, speeds and sentences apart without a model.
A sentence containing `CRASH` kills the worker process, as a segfaulting runtime would; one containing
`LANGUAGE?` fails with the request's language and reference in the message (a probe for the contract tests);
one containing `BROKEN!` fails saying the worker must be restarted (as a runtime whose state is corrupt would).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from engines.core.errors import EngineError, EngineUnavailable
from engines.core.interface import (
    AudioChunk,
    Engine,
    EngineInfo,
    StopCheck,
    SynthesisRequest,
    VoiceInfo,
    VoiceReference,
)
from engines.core.options import Option, parse_config

RATE = 16000
SECONDS_PER_CHAR = 0.02
PRESETS = ("fake-low", "fake-high")
CONFIG = (
    Option("delay_s", "float", 0.0, "seconds of simulated work per sentence", min=0),
    Option("threads", "int", 0, "the pool's share of the cores (a tone needs none)", min=0),
)


class FakeEngine(Engine):
    REQUIREMENTS = ("numpy>=1.26",)
    OPTIONS = (
        Option("pitch", "float", None, "tone frequency in Hz (default: from the voice)", min=50, max=2000),
        Option("trace", "bool", False, "log each sentence (cannot change the audio)", audio=False),
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.delay_s = float(parse_config(CONFIG, config, "engines.fake")["delay_s"])

    def info(self) -> EngineInfo:
        voices = tuple(
            VoiceInfo(
                name=name, engine="fake", languages=("en_US",), description=f"Fake {name}", sample_rate=RATE
            )
            for name in PRESETS
        )
        return EngineInfo(name="fake", version="1", cloning=True, voices=voices, description="deterministic tones",
                          options=self.OPTIONS, sample_rate=RATE)  # fmt: skip

    def prepare_voice(self, reference: VoiceReference) -> bytes:
        return hashlib.sha256(reference.audio).digest()[:8]

    def synthesize(self, request: SynthesisRequest, should_stop: StopCheck) -> Iterator[AudioChunk]:
        if "CRASH" in request.text:
            os._exit(70)
        if "BROKEN!" in request.text:
            raise EngineUnavailable("the fake engine's state is broken", restart=True)
        if "LANGUAGE?" in request.text:
            reference = request.reference.language if request.reference else None
            raise EngineError(f"language={request.language} reference={reference}", param="probe")
        if request.voice not in PRESETS and request.prompt is None:
            raise EngineError(f"fake engine has no voice {request.voice!r}", param="voice")
        # Presets speak at 200-599 Hz and cloned voices at 650-949 Hz, so a cloned voice can never be
        # mistaken for a preset by its pitch.
        seed = request.prompt or request.voice.encode()
        spread = int.from_bytes(hashlib.sha256(seed).digest()[:2], "little")
        pitch = 650.0 + spread % 300 if request.prompt else 200.0 + spread % 400
        pitch = float(request.options.get("pitch") or pitch)
        seconds = max(0.1, len(request.text) * SECONDS_PER_CHAR / request.speed)
        t = np.arange(int(seconds * RATE)) / RATE
        audio = (0.3 * np.sin(2 * np.pi * pitch * t) * 32767).astype("<i2")
        # Two chunks per sentence, with the simulated work between them, so cancellation has a gap to hit.
        half = len(audio) // 2
        for part in (audio[:half], audio[half:]):
            if self.delay_s:
                time.sleep(self.delay_s / 2)
            if should_stop():
                return
            yield AudioChunk(RATE, 2, 1, part.tobytes())
