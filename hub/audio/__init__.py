"""In-memory audio: encoders for synthesized speech (hub.audio.encoding), decoding of uploaded reference
clips (hub.audio.decoding) and sample helpers (hub.audio.dsp), all re-exported here for their many callers.

Everything stays in memory: libsndfile (`soundfile`) and the FFmpeg that PyAV bundles do the codec work,
with no temp files and no ffmpeg binary. Which formats a request may ask for is hub.rules.OUTPUT_FORMATS.
"""

from hub.audio.decoding import DecodeLimits, decode_audio
from hub.audio.dsp import float_to_pcm16, pcm16_to_float, resample
from hub.audio.encoding import CONTENT_TYPES, StreamEncoder, encode, encode_async, encode_stream, open_encoder

__all__ = [
    "CONTENT_TYPES",
    "DecodeLimits",
    "StreamEncoder",
    "decode_audio",
    "encode",
    "encode_async",
    "encode_stream",
    "float_to_pcm16",
    "open_encoder",
    "pcm16_to_float",
    "resample",
]
