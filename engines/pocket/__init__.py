"""Pocket TTS (Kyutai; MIT code, CC-BY-4.0 weights): zero-shot cloning on torch, streamed frame by frame."""
