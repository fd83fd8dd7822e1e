"""Real voice clips for the quality tests: the offline Piper voice, espeak-ng voices, degraded copies.

Models (Whisper base, silero-vad, the speaker encoder) load once per session in `toolkit`.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hub.audio import resample

RATE = 24000
TEXT = (
    "The quick brown fox jumps over the lazy dog. Dinner is ready, so please come to the kitchen table "
    "now. The weather tomorrow will be sunny with a light breeze from the west."
)
ESPEAK_VOICES = ("en-us+m1", "en-us+f2", "en-gb+m3")


def wav_bytes(samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    sf.write(out, np.asarray(samples, dtype=np.float32), rate, format="WAV", subtype=subtype)
    return out.getvalue()


@pytest.fixture(scope="session")
def piper_clip() -> np.ndarray:
    """About 10 s of the offline Piper voice reading TEXT, at 24 kHz."""
    from engines.core.interface import SynthesisRequest
    from engines.piper.engine import PiperEngine

    engine = PiperEngine({})
    chunks = list(engine.synthesize(SynthesisRequest(text=TEXT, voice="en_US-joe-medium"), lambda: False))
    engine.close()
    pcm = np.concatenate([np.frombuffer(c.audio, dtype="<i2") for c in chunks]).astype(np.float32) / 32768
    return resample(pcm, chunks[0].rate, RATE)


def espeak(voice: str, text: str = TEXT) -> np.ndarray:
    """`text` spoken by espeak-ng's `voice`, at 24 kHz."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; .ci/run installs it)")
    out = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True).stdout
    samples, rate = sf.read(io.BytesIO(out), dtype="float32")
    return resample(samples, rate, RATE)


@pytest.fixture(scope="session")
def espeak_clips() -> dict[str, np.ndarray]:
    return {voice: espeak(voice) for voice in ESPEAK_VOICES}


@pytest.fixture(scope="session")
def degrade() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Ways to ruin a clean clip, by name."""
    rng = np.random.default_rng(7)

    def noisy(x: np.ndarray) -> np.ndarray:  # white noise 5 dB below the speech
        power = float(np.mean(x**2))
        return (x + rng.normal(0, np.sqrt(power / 10 ** (5 / 10)), len(x))).astype(np.float32)

    return {
        "clipped": lambda x: np.clip(x * 8, -1, 1),
        "noisy": noisy,
        "silent": lambda x: (rng.normal(0, 1e-4, 5 * RATE)).astype(np.float32),
        "too_short": lambda x: x[: int(1.5 * RATE)],
        "narrowband": lambda x: resample(resample(x, RATE, 8000), 8000, RATE),
    }


@pytest.fixture(scope="session")
def toolkit(tmp_path_factory: pytest.TempPathFactory, transcriber: object) -> object:
    """One Toolkit (VAD, speaker encoder, Whisper base) for the whole session."""
    # torch (voxhub[quality], in the test extra) and resemblyzer's weights (scripts/prereqs) are declared
    # test dependencies: missing, they fail here with the command that installs them, never a skip.
    from hub.quality.clip import Toolkit
    from hub.quality.speaker import weights_path
    from hub.settings import load_settings

    weights_path()
    data = tmp_path_factory.mktemp("toolkit")
    tools = Toolkit(load_settings(env={"VOXHUB_DATA_DIR": str(data)}))
    tools.asr = transcriber  # type: ignore[assignment]  # the session's Whisper base, loaded once
    return tools


@pytest.fixture
def write_clip(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str, samples: np.ndarray, rate: int = RATE) -> Path:
        path = tmp_path / name
        sf.write(path, samples, rate)
        return path

    return write
