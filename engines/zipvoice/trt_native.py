"""The flow-matching decoder as a native TensorRT engine, built from the official `fm_decoder.onnx`.

The engine is built once (fp16, one optimisation profile over batch and frames) and cached on disk under
a name derived from the ONNX file (size, mtime), the TensorRT version and the profile, so a new model or
TensorRT builds a new one; an engine that no longer deserialises (other GPU, other driver) is rebuilt.
GPU buffers come from onnxruntime-gpu's `OrtValue`, so no further CUDA binding is needed.
Only imported when `engines.zipvoice.runtime = "tensorrt-native"`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import ConfigError, EngineError
from engines.zipvoice.runtimes import MAX_FRAMES, MIN_FRAMES, OPT_FRAMES, require_tensorrt

log = logging.getLogger(__name__)

FRAME_INPUTS = ("x", "text_condition", "speech_condition")


def plan_path(
    onnx_path: Path, cache_dir: Path, trt_version: str, max_batch: int, feat_dim: int = 100
) -> Path:
    """Where the engine for this model, TensorRT version and profile is cached."""
    stat = onnx_path.stat()
    key = f"{onnx_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{trt_version}|{max_batch}|{feat_dim}|" \
          f"{MIN_FRAMES}-{OPT_FRAMES}-{MAX_FRAMES}|fp16"  # fmt: skip
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"{onnx_path.stem}-{digest}-trt{trt_version}.plan"


def build(onnx_path: Path, target: Path, *, max_batch: int, feat_dim: int = 100) -> None:
    """Parse the ONNX decoder and build an fp16 engine with one profile; written atomically to `target`."""
    trt = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # deprecated (and default) in TRT 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name in FRAME_INPUTS:
        profile.set_shape(name, (1, MIN_FRAMES, feat_dim), (1, OPT_FRAMES, feat_dim),
                          (max_batch, MAX_FRAMES, feat_dim))  # fmt: skip
    config.add_optimization_profile(profile)
    log.warning("zipvoice: building a TensorRT engine for %s (minutes, once)", onnx_path.name)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(f"TensorRT failed to build an engine for {onnx_path}; see the log above")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(bytes(serialized))
    os.replace(partial, target)


class TrtDecoder:
    """Calls the cached TensorRT engine with the official decoder's inputs; returns `v` as float32."""

    def __init__(self, onnx_path: Path, cache_dir: Path, *, max_batch: int = 4, feat_dim: int = 100) -> None:
        trt = require_tensorrt()
        self.trt = trt
        path = plan_path(onnx_path, cache_dir, trt.__version__, max_batch, feat_dim)
        engine = self._load(path) if path.is_file() else None
        if engine is None:
            build(onnx_path, path, max_batch=max_batch, feat_dim=feat_dim)
            engine = self._load(path)
        if engine is None:
            raise EngineError(f"TensorRT cannot load the engine it just built ({path})")
        self.engine: Any = engine
        self.context = self.engine.create_execution_context()
        self.names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.max_batch = max_batch

    def _load(self, path: Path) -> Any:
        runtime = self.trt.Runtime(self.trt.Logger(self.trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            log.warning("zipvoice: cached TensorRT engine %s does not load here; rebuilding", path)
        return engine

    def __call__(self, t: float, x: np.ndarray, text: np.ndarray, speech: np.ndarray, g: float) -> np.ndarray:
        import onnxruntime as ort

        if x.shape[1] > MAX_FRAMES or x.shape[0] > self.max_batch:
            raise EngineError(
                f"the TensorRT decoder takes at most {MAX_FRAMES} frames and batch {self.max_batch}, got "
                f'{x.shape[:2]}: split the text into shorter sentences or use runtime = "cuda"'
            )
        feeds = {"t": np.array(t, np.float32), "x": x, "text_condition": text, "speech_condition": speech,
                 "guidance_scale": np.array(g, np.float32)}  # fmt: skip
        keep: list[Any] = []  # device buffers must outlive the launch
        output = None
        for name in self.names:
            dtype = self.trt.nptype(self.engine.get_tensor_dtype(name))
            if self.engine.get_tensor_mode(name) == self.trt.TensorIOMode.INPUT:
                if name not in feeds:
                    raise ConfigError(f"the TensorRT decoder has an unexpected input {name!r}")
                value = np.ascontiguousarray(feeds[name], dtype=dtype)
                self.context.set_input_shape(name, value.shape)
                buffer = ort.OrtValue.ortvalue_from_numpy(value, "cuda", 0)
            else:
                shape = tuple(self.context.get_tensor_shape(name))
                buffer = output = ort.OrtValue.ortvalue_from_shape_and_type(shape, dtype, "cuda", 0)
            self.context.set_tensor_address(name, buffer.data_ptr())
            keep.append(buffer)
        # Stream 0 is the legacy default stream: the device-to-host copy below waits for the launch.
        if not self.context.execute_async_v3(0):
            raise EngineError("TensorRT failed to run the decoder")
        assert output is not None
        return np.asarray(output.numpy(), dtype=np.float32)
