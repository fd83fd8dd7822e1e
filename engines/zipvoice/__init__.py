"""ZipVoice / ZipVoice-Distill: zero-shot voice cloning by flow matching, torch-free on onnxruntime.

Modules: `tokenizer` (text → tokens), `features` (prompt audio → log-mel), `sampler` (Euler flow
matching), `vocoder` (Vocos ONNX + inverse STFT), `runtimes` (CPU / CUDA / TensorRT sessions),
`trt_native` (the decoder as a TensorRT engine), `models` (files and `voxhub models pull`),
`pipeline` (one generation) and `engine` (`ZipVoiceEngine`, which the hub's worker loads).
"""
