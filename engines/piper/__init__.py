"""Piper: VITS voices exported to ONNX (`NAME.onnx` + `NAME.onnx.json`), run with onnxruntime on the CPU.

Modules: `voices` finds and describes voices, `phonemize` turns text into phoneme ids (espeak-ng through
phonemizer), `engine` holds `PiperEngine`, the Engine the hub's worker loads.
"""

from engines.piper.engine import PiperEngine

__all__ = ["PiperEngine"]
