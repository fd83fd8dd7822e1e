"""A tiny Pocket TTS model with random weights, built from the package's own classes and saved to local files.

Its YAML follows the package's schema with tiny sizes and local paths only, so the package's real loader
(`TTSModel.load_model(config=...)`) reads it with HF_HUB_OFFLINE=1: the whole code path (reference clip in,
Mimi encoding, LM prompt, streamed frames out) runs in CI without the released weights. About 37 k parameters;
with `eos_threshold = -1e9` and `frames_after_eos = 4` every sentence is exactly 10 frames (0.8 s at 24 kHz).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

N_BINS = 256
FRAMES = 10
"""Frames per sentence with the settings below (6 before EOS may count, then 4 after)."""
FRAME_SAMPLES = 1920
"""24 kHz / 12.5 frames per second."""
PRESET = "pocket-tiny"
PRESET_VOICE = f"{PRESET}.safetensors"


def _seanet(dimension: int) -> dict[str, Any]:
    return {"dimension": dimension, "channels": 1, "n_filters": 2, "n_residual_layers": 1, "ratios": [6, 5, 4],
            "kernel_size": 3, "residual_kernel_size": 3, "last_kernel_size": 3, "dilation_base": 2,
            "pad_mode": "constant", "compress": 2}  # fmt: skip


def _transformer(d_model: int) -> dict[str, Any]:
    return {"d_model": d_model, "num_heads": 2, "num_layers": 1, "layer_scale": 0.01, "context": 50,
            "dim_feedforward": 32, "input_dimension": d_model, "output_dimensions": [d_model]}  # fmt: skip


def config(tokenizer: Path, weights: Path | None) -> dict[str, Any]:
    """The YAML contents, in the package's schema."""
    data: dict[str, Any] = {
        "default_temperature": 0.3,
        "default_eos_threshold": -1e9,
        "model_recommended_frames_after_eos": 4,
        "flow_lm": {
            "insert_bos_before_voice": True,
            "dtype": "float32",
            "flow": {"depth": 1, "dim": 16},
            "transformer": {
                "d_model": 32,
                "hidden_scale": 1,
                "max_period": 10000,
                "num_heads": 2,
                "num_layers": 1,
            },
            "lookup_table": {
                "dim": 32,
                "n_bins": N_BINS,
                "tokenizer": "tokenizers",
                "tokenizer_path": str(tokenizer),
            },
        },
        "mimi": {
            "dtype": "float32",
            "sample_rate": 24000,
            "channels": 1,
            "frame_rate": 12.5,
            "inner_dim": 8,
            "outer_dim": 16,
            "seanet": _seanet(16),
            "transformer": _transformer(16),
            "quantizer": {"dimension": 8, "output_dimension": 16},
            "decoder_seanet": _seanet(16),
            "decoder_transformer": _transformer(16),
        },
    }
    if weights is not None:
        data["weights_path"] = str(weights)
    return data


def tokenizer_json(path: Path, n_bins: int = N_BINS, words: tuple[str, ...] = ()) -> None:
    """A `tokenizers` Unigram model with a Metaspace pre-tokenizer and exactly `n_bins` pieces (`words` become
    whole-word pieces, so a sentence of them is as many tokens as a real tokenizer would make)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    letters = [chr(c) for c in range(32, 127)] + ["▁" + chr(c) for c in range(97, 123)]
    pieces = ["<unk>", *dict.fromkeys([*letters, *(f"▁{w}" for w in words)])]
    pieces += [f"<pad{i}>" for i in range(n_bins - len(pieces))]
    tokenizer = Tokenizer(models.Unigram([(p, -1.0) for p in pieces], unk_id=0, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))


def build(model_dir: Path, *, seed: int = 0) -> Path:
    """Write tokenizer.json, model.safetensors (random weights) and config.yaml into `model_dir`."""
    import safetensors.torch
    import torch
    from pocket_tts import TTSModel

    model_dir.mkdir(parents=True, exist_ok=True)
    tokenizer_json(model_dir / "tokenizer.json")
    bare = model_dir / "build.yaml"
    bare.write_text(yaml.safe_dump(config(model_dir / "tokenizer.json", None)))
    torch.manual_seed(seed)
    model = TTSModel.load_model(config=str(bare))  # no weights: random initialization
    state = {k: v.contiguous().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # the speaker projection starts at zero: give the clone something to carry
        state["flow_lm.speaker_proj_weight"] = torch.randn_like(state["flow_lm.speaker_proj_weight"]) * 0.1
    safetensors.torch.save_file(state, str(model_dir / "model.safetensors"))
    bare.unlink()
    final = copy.deepcopy(config(model_dir / "tokenizer.json", model_dir / "model.safetensors"))
    (model_dir / "config.yaml").write_text(yaml.safe_dump(final))
    # One preset voice, as `voxhub models pull` installs them: an exported state under voices/.
    from pocket_tts import export_model_state

    loaded = TTSModel.load_model(config=str(model_dir / "config.yaml"))
    (model_dir / "voices").mkdir(exist_ok=True)
    generator = torch.Generator().manual_seed(seed + 1)
    clip = torch.randn(1, 24000 * 2, generator=generator) * 0.1
    export_model_state(loaded.get_state_for_audio_prompt(clip), model_dir / "voices" / PRESET_VOICE)
    return model_dir / "config.yaml"


def full_size(model_dir: Path, *, words: tuple[str, ...] = (), eos_threshold: float = 1e9) -> Path:
    """The package's full English config (109.5 M parameters) with random weights, saved locally (for bench/):
    random weights cost what trained ones do. EOS never fires, so every sentence has the same length."""
    import safetensors.torch
    import torch
    from pocket_tts import TTSModel

    from engines.pocket.models import package_config

    model_dir.mkdir(parents=True, exist_ok=True)
    data = package_config("english")
    for key in ("weights_path", "weights_path_without_voice_cloning"):
        data.pop(key, None)
    n_bins = data["flow_lm"]["lookup_table"]["n_bins"]
    tokenizer_json(model_dir / "tokenizer.json", n_bins, words)
    data["flow_lm"]["lookup_table"]["tokenizer_path"] = str(model_dir / "tokenizer.json")
    data["default_eos_threshold"] = eos_threshold
    (model_dir / "build.yaml").write_text(yaml.safe_dump(data))
    torch.manual_seed(0)
    model = TTSModel.load_model(config=str(model_dir / "build.yaml"))
    state = {k: v.contiguous().clone() for k, v in model.state_dict().items()}
    state["flow_lm.speaker_proj_weight"] = torch.randn_like(state["flow_lm.speaker_proj_weight"]) * 0.02
    safetensors.torch.save_file(state, str(model_dir / "model.safetensors"))
    data["weights_path"] = str(model_dir / "model.safetensors")
    (model_dir / "config.yaml").write_text(yaml.safe_dump(data))
    (model_dir / "build.yaml").unlink()
    return model_dir / "config.yaml"
