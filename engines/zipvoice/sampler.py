"""The flow-matching sampler: Euler steps on a time-shifted schedule, t = 0 (noise) → 1 (data).

Guidance depends on the model type. The official ZipVoice decoder applies classifier-free guidance
inside its graph and Distill takes the scale as a conditioning input; both then look the same to the
caller. `guided` wraps a decoder that has no guidance of its own (e.g. a raw decoder built for TensorRT)
with ZipVoice's rule, so the sampler never needs to know.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Decoder = Callable[[float, np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]
"""(t, x, text_condition, speech_condition, guidance_scale) → velocity, arrays (N, T, 100)."""


def time_steps(steps: int, shift: float = 0.5) -> np.ndarray:
    """`steps + 1` times from 0 to 1: u = i/steps warped by t = s·u / (1 + (s − 1)·u)."""
    u = np.linspace(0.0, 1.0, steps + 1)
    return shift * u / (1.0 + (shift - 1.0) * u)


def sample(decoder: Decoder, text_condition: np.ndarray, speech_condition: np.ndarray, *,
           guidance: float, steps: int, shift: float, noise: np.ndarray,
           on_step: Callable[[int], None] | None = None) -> np.ndarray:  # fmt: skip
    """Integrate dx/dt = v(t, x) from `noise` with `steps` Euler steps; returns x at t = 1."""
    x = np.asarray(noise, dtype=np.float32)
    times = time_steps(steps, shift)
    for i in range(steps):
        v = decoder(float(times[i]), x, text_condition, speech_condition, guidance)
        x = x + np.asarray(v, dtype=np.float32) * np.float32(times[i + 1] - times[i])
        if on_step is not None:
            on_step(i)
    return x


def guided(decoder: Decoder) -> Decoder:
    """ZipVoice's classifier-free guidance around a decoder without it (the batch is doubled).

    Unconditional: no text; no speech prompt once t > 0.5. Scale g for t > 0.5, else 2g:
    v = (1 + g')·v_cond − g'·v_uncond.
    """

    def run(t: float, x: np.ndarray, text: np.ndarray, speech: np.ndarray, g: float) -> np.ndarray:
        late = t > 0.5
        scale = g if late else 2.0 * g
        uncond_speech = np.zeros_like(speech) if late else speech
        v = decoder(t, np.concatenate([x, x]), np.concatenate([np.zeros_like(text), text]),
                    np.concatenate([uncond_speech, speech]), g)  # fmt: skip
        v_uncond, v_cond = np.split(np.asarray(v), 2)
        return (1.0 + scale) * v_cond - scale * v_uncond

    return run
