"""ZipVoice config, runtime selection and model files: clear errors here, GPU runs where a GPU exists."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from engines.core.errors import ConfigError
from engines.core.interface import SynthesisRequest, VoiceReference
from engines.zipvoice import runtimes
from engines.zipvoice.engine import ZipVoiceEngine, ZipVoiceOptions
from engines.zipvoice.models import installed, model_files
from tests.engines.test_zipvoice_dsp import speechlike
from tests.zipvoice_graphs import install_tiny_models

REPO = Path(__file__).resolve().parents[2]
HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
HAS_TRT_EP = "TensorrtExecutionProvider" in ort.get_available_providers()


def has_tensorrt() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorrt") is not None


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_tiny_models(tmp_path_factory.mktemp("zipvoice-models"))


def test_provider_lists_per_runtime() -> None:
    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert runtimes.providers("cpu", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert runtimes.providers("cuda", everything)[0][0] == "CUDAExecutionProvider"
    trt = runtimes.providers("tensorrt", everything, cache_dir=Path("/c"), decoder=True, max_batch=4)
    name, options = trt[0]
    assert (
        name == "TensorrtExecutionProvider"
        and options["trt_fp16_enable"]
        and options["trt_engine_cache_enable"]
    )
    assert options["trt_engine_cache_path"] == "/c"
    assert options["trt_profile_max_shapes"].startswith("x:4x3000x100,text_condition:4x3000x100")
    assert [p if isinstance(p, str) else p[0] for p in trt[1:]] == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    # the native runtime runs the encoder and the vocoder on CUDA
    assert runtimes.providers("tensorrt-native", everything)[0][0] == "CUDAExecutionProvider"


@pytest.mark.parametrize("runtime", ["cuda", "tensorrt", "tensorrt-native"])
def test_gpu_runtime_without_a_gpu_stack_names_the_fix(runtime: str) -> None:
    with pytest.raises(ConfigError, match=r"onnxruntime-gpu.*runtime = \"cpu\"|pip install tensorrt"):
        runtimes.providers(runtime, ["CPUExecutionProvider"])
    with pytest.raises(ConfigError, match="TensorRT provider"):
        runtimes.providers("tensorrt", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(ConfigError, match="runtime = 'tpu' is not valid"):
        runtimes.providers("tpu", [])


@pytest.mark.skipif(HAS_CUDA and has_tensorrt(), reason="this machine has the GPU stack")
@pytest.mark.parametrize("runtime", ["cuda", "tensorrt", "tensorrt-native"])
def test_engine_with_an_unavailable_gpu_runtime_fails_at_start(model_dir: Path, runtime: str) -> None:
    with pytest.raises(ConfigError, match=r"pip install|onnxruntime-gpu") as caught:
        ZipVoiceEngine({"model_dir": str(model_dir), "runtime": runtime})
    assert "runtime" in str(caught.value)


def test_options_are_coerced_from_environment_strings_and_checked() -> None:
    options = ZipVoiceOptions.parse(
        {"steps": "4", "guidance": "2.5", "seed": "7", "speed": "1.25", "threads": ""}
    )
    assert (options.steps, options.guidance, options.seed, options.speed, options.threads) == (
        4,
        2.5,
        7,
        1.25,
        0,
    )
    assert ZipVoiceOptions.parse({"guidance": ""}).resolved().guidance == 3.0
    assert ZipVoiceOptions.parse({"model": "zipvoice"}).resolved().steps == 16
    for bad, message in [
        ({"steps": "many"}, "engines.zipvoice.steps = 'many' is not valid: use an integer >= 0"),
        ({"model": "zipvoice2"}, "engines.zipvoice.model = 'zipvoice2' is not valid: use one of zipvoice, zipvoice-distill"),
        ({"precision": "fp16"}, "use one of fp32, int8"),
        ({"precision": "int8", "runtime": "tensorrt"}, 'set precision = "fp32"'),
        ({"stepz": 4}, "unknown key(s) engines.zipvoice.stepz"),
        ({"steps": -1}, "steps = -1 is not valid: use an integer >= 0"),
        ({"guidance": "nan"}, "guidance = 'nan' is not valid: use a number >= 0"),
    ]:  # fmt: skip
        with pytest.raises(ConfigError) as caught:
            ZipVoiceOptions.parse(bad)
        assert message in str(caught.value), bad


def test_missing_model_files_stop_the_engine_with_instructions(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        ZipVoiceEngine({"model_dir": str(tmp_path / "empty"), "precision": "int8"})
    message = str(caught.value)
    assert "voxhub models pull zipvoice-distill --precision int8" in message
    for f in model_files("zipvoice-distill", "int8"):
        assert f.url in message and str(tmp_path / "empty" / f.relpath) in message


def test_models_list_shows_what_is_installed(model_dir: Path, tmp_path: Path) -> None:
    rows = {(r["name"], r["precision"]): r for r in installed(model_dir)}
    assert (
        rows[("zipvoice-distill", "fp32")]["installed"] and not rows[("zipvoice-distill", "fp32")]["verified"]
    )
    assert rows[("zipvoice", "fp32")]["missing"] == ["zipvoice/tokens.txt", "zipvoice/text_encoder.onnx",
                                                    "zipvoice/fm_decoder.onnx"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env.update({"VOXHUB_DATA_DIR": str(tmp_path), "VOXHUB_ENGINES__ZIPVOICE__MODEL_DIR": str(model_dir)})
    result = subprocess.run([sys.executable, "-m", "hub.cli", "models", "list"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = next(row for row in result.stdout.splitlines() if row.startswith("zipvoice-distill   fp32"))
    assert "installed" in line and "missing" not in line and str(model_dir) in result.stdout


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_pull_offline_fails_fast_with_manual_instructions(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXHUB_", "HF_"))}
    env.update({"VOXHUB_DATA_DIR": str(tmp_path), "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
                "HF_HUB_OFFLINE": "0"})  # fmt: skip
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "hub.cli", "models", "pull", "zipvoice-distill"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and elapsed < 15, (elapsed, result.stderr)
    assert "cannot reach the model servers" in result.stderr
    target = tmp_path / "models" / "zipvoice"
    for f in model_files("zipvoice-distill", "fp32"):
        assert str(target / f.relpath) in result.stderr and f.relpath.split("/")[-1] in result.stderr
    assert "k2-fsa/ZipVoice/resolve/main/zipvoice_distill/fm_decoder.onnx" in result.stderr
    assert not target.exists() or not any(target.rglob("*.onnx"))  # nothing half-written
    unknown = subprocess.run([sys.executable, "-m", "hub.cli", "models", "pull", "zipvoice3"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert unknown.returncode == 2 and "use one of zipvoice, zipvoice-distill" in unknown.stderr


def gpu_audio(model_dir: Path, runtime: str) -> tuple[np.ndarray, np.ndarray]:
    voice = VoiceReference("a", speechlike(2.0).tobytes(), 24000, "Hello there.")
    outputs = []
    for name in ("cpu", runtime):
        engine = ZipVoiceEngine({"model_dir": str(model_dir), "runtime": name, "steps": 4})
        prompt = engine.prepare_voice(voice)
        chunks = engine.synthesize(SynthesisRequest("How are you today?", "a", prompt=prompt), lambda: False)
        outputs.append(np.frombuffer(b"".join(c.audio for c in chunks), "<i2").astype(np.float32) / 32767)
    return outputs[0], outputs[1]


@pytest.mark.skipif(not HAS_CUDA, reason="needs onnxruntime-gpu and an NVIDIA GPU")
def test_cuda_runtime_matches_the_cpu(model_dir: Path) -> None:
    cpu, cuda = gpu_audio(model_dir, "cuda")
    assert len(cpu) == len(cuda) and np.max(np.abs(cpu - cuda)) < 0.02


@pytest.mark.skipif(not (HAS_CUDA and HAS_TRT_EP), reason="needs onnxruntime's TensorRT provider and a GPU")
def test_tensorrt_provider_matches_the_cpu(model_dir: Path) -> None:
    cpu, trt = gpu_audio(model_dir, "tensorrt")
    assert len(cpu) == len(trt) and np.max(np.abs(cpu - trt)) < 0.05  # fp16


@pytest.mark.skipif(not (HAS_CUDA and has_tensorrt()), reason="needs TensorRT, onnxruntime-gpu and a GPU")
def test_native_tensorrt_decoder_matches_the_cpu_and_is_cached(model_dir: Path) -> None:
    cpu, native = gpu_audio(model_dir, "tensorrt-native")
    assert len(cpu) == len(native) and np.max(np.abs(cpu - native)) < 0.05  # fp16
    plans = list((model_dir / "tensorrt").glob("*.plan"))
    assert len(plans) == 1
    built = plans[0].stat().st_mtime_ns
    gpu_audio(model_dir, "tensorrt-native")
    assert plans[0].stat().st_mtime_ns == built  # reused, not rebuilt
