"""Runtimes for the ZipVoice sessions, chosen by `engines.zipvoice.runtime` and imported lazily.

- `cpu`: onnxruntime's CPU provider (the default; never touches CUDA or TensorRT).
- `cuda`: onnxruntime's CUDA provider (onnxruntime-gpu installed in place of onnxruntime).
- `tensorrt`: onnxruntime's TensorRT provider (fp16, engines cached on disk), CUDA for what it cannot run.
- `tensorrt-native`: the flow-matching decoder as a TensorRT engine built here (engines/zipvoice/trt_native.py);
  the text encoder and the vocoder on the CUDA provider.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import ConfigError

log = logging.getLogger(__name__)

RUNTIMES = ("cpu", "cuda", "tensorrt", "tensorrt-native")
GPU_FIX = ("install onnxruntime-gpu in place of onnxruntime (pip uninstall -y onnxruntime && pip install "
           "onnxruntime-gpu) on a machine with an NVIDIA GPU and driver, or set engines.zipvoice.runtime = \"cpu\"")  # fmt: skip
# Decoder shapes TensorRT is built for: batch 1..max_batch, 16..3000 frames (about 32 s), 100 features.
MIN_FRAMES, OPT_FRAMES, MAX_FRAMES = 16, 600, 3000


def providers(runtime: str, available: Sequence[str], *, cache_dir: Path | None = None,
              decoder: bool = False, max_batch: int = 4, feat_dim: int = 100) -> list[Any]:  # fmt: skip
    """The onnxruntime provider list for `runtime`, or ConfigError naming the fix when it cannot run here."""
    if runtime not in RUNTIMES:
        raise ConfigError(
            f"engines.zipvoice.runtime = {runtime!r} is not valid: use one of {', '.join(RUNTIMES)}"
        )
    if runtime == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in available:
        raise ConfigError(
            f"engines.zipvoice.runtime = {runtime!r} needs onnxruntime's CUDA provider, but this onnxruntime "
            f"only has {', '.join(available) or 'none'}: {GPU_FIX}"
        )
    cuda = ("CUDAExecutionProvider", {"device_id": 0})
    if runtime in ("cuda", "tensorrt-native"):  # native: the decoder is not an onnxruntime session
        return [cuda, "CPUExecutionProvider"]
    if "TensorrtExecutionProvider" not in available:
        raise ConfigError(
            'engines.zipvoice.runtime = "tensorrt" needs onnxruntime\'s TensorRT provider (onnxruntime-gpu '
            "built with TensorRT, and the TensorRT libraries: pip install tensorrt), which this onnxruntime "
            'lacks: install them, or use runtime = "cuda"'
        )
    options: dict[str, Any] = {"device_id": 0, "trt_fp16_enable": True, "trt_engine_cache_enable": True,
                               "trt_timing_cache_enable": True}  # fmt: skip
    if cache_dir is not None:
        options["trt_engine_cache_path"] = str(cache_dir)
        options["trt_timing_cache_path"] = str(cache_dir)
    if decoder:  # one profile for every sentence length, instead of a rebuild per new shape
        names = ("x", "text_condition", "speech_condition")

        def shape(batch: int, frames: int) -> str:
            return ",".join(f"{n}:{batch}x{frames}x{feat_dim}" for n in names)

        options["trt_profile_min_shapes"] = shape(1, MIN_FRAMES)
        options["trt_profile_opt_shapes"] = shape(1, OPT_FRAMES)
        options["trt_profile_max_shapes"] = shape(max_batch, MAX_FRAMES)
    return [("TensorrtExecutionProvider", options), cuda, "CPUExecutionProvider"]


def check_runtime(runtime: str) -> None:
    """Fail at start-up, not on the first request, when `runtime` cannot run here (imports nothing GPU)."""
    import importlib.util

    import onnxruntime as ort

    providers(runtime, ort.get_available_providers())
    if runtime == "tensorrt-native" and importlib.util.find_spec("tensorrt") is None:
        require_tensorrt()


def open_session(path: Path, runtime: str, *, threads: int = 0, cache_dir: Path | None = None,
                 decoder: bool = False, max_batch: int = 4) -> Any:  # fmt: skip
    """An onnxruntime session for `path` on `runtime`; a GPU runtime that silently fell back is an error."""
    import onnxruntime as ort

    chosen = providers(runtime, ort.get_available_providers(), cache_dir=cache_dir, decoder=decoder,
                       max_batch=max_batch)  # fmt: skip
    if cache_dir is not None and runtime == "tensorrt":
        cache_dir.mkdir(parents=True, exist_ok=True)
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=options, providers=chosen)
    wanted = chosen[0][0] if isinstance(chosen[0], tuple) else chosen[0]
    if session.get_providers()[0] != wanted:
        # onnxruntime-gpu lists CUDA even without a usable GPU, then quietly runs on the CPU.
        raise ConfigError(
            f"onnxruntime could not start {wanted} for {path.name} (it fell back to "
            f"{session.get_providers()[0]}): check the NVIDIA driver and CUDA/cuDNN libraries, or {GPU_FIX}"
        )
    return session


def metadata(session: Any) -> dict[str, str]:
    """A session's `metadata_props` (empty when the export wrote none)."""
    try:
        return dict(session.get_modelmeta().custom_metadata_map)
    except Exception:  # some builds raise on models without metadata
        return {}


class OrtDecoder:
    """The official `fm_decoder.onnx` through an onnxruntime session."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = {i.name for i in session.get_inputs()}

    def __call__(self, t: float, x: np.ndarray, text: np.ndarray, speech: np.ndarray, g: float) -> np.ndarray:
        feeds = {
            "t": np.array(t, dtype=np.float32),
            "x": x,
            "text_condition": text,
            "speech_condition": speech,
        }
        if "guidance_scale" in self.inputs:
            feeds["guidance_scale"] = np.array(g, dtype=np.float32)
        return self.session.run(["v"], feeds)[0]


def require_tensorrt() -> Any:
    """Import TensorRT, or ConfigError naming the fix."""
    try:
        import tensorrt
    except ImportError:
        raise ConfigError(
            'engines.zipvoice.runtime = "tensorrt-native" needs the TensorRT Python package: pip install '
            f"tensorrt (matching your CUDA), and {GPU_FIX.replace(', or set', '; or set')}"
        ) from None
    return tensorrt
