"""One ZipVoice generation: text encoder → Euler sampler over the decoder → Vocos → inverse STFT.

Sessions load lazily: the tokenizer and the text encoder's metadata for `prepare`, the decoder and the
vocoder on the first generation. `timings` records seconds per stage so the benchmark can tell the
model sessions from the pipeline's own overhead.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.zipvoice import features as feats
from engines.zipvoice.models import ModelPaths
from engines.zipvoice.runtimes import OrtDecoder, metadata, open_session
from engines.zipvoice.sampler import Decoder, sample
from engines.zipvoice.tokenizer import Tokenizer
from engines.zipvoice.vocoder import Vocoder, istft

PROMPT_FORMAT = 1
MAX_CHUNK_SECONDS = 25.0
"""Prompt plus generated audio per chunk, as upstream."""
CROSS_FADE_S = 0.1
SENTENCE_PUNCTUATION = frozenset(";:,.!?；：，。！？")


@dataclass(frozen=True)
class Prompt:
    """A cloned voice as ZipVoice needs it, computed once per voice and cached in the library."""

    ids: np.ndarray
    """Token ids of the transcript (int64)."""
    features: np.ndarray
    """Scaled log-mel features (P, 100), float32."""
    rms: float
    """RMS of the reference before normalisation (restored on the output)."""
    seconds: float
    """Length of the prompt audio used, trimming and the added 200 ms included."""

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, format=np.int32(PROMPT_FORMAT), ids=self.ids.astype(np.int32),
                 features=self.features.astype(np.float32), rms=np.float64(self.rms),
                 seconds=np.float64(self.seconds))  # fmt: skip
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Prompt:
        """Raises ValueError on anything but a prompt this version wrote."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                if int(npz["format"]) != PROMPT_FORMAT:
                    raise ValueError(f"prompt format {int(npz['format'])}, expected {PROMPT_FORMAT}")
                return cls(npz["ids"].astype(np.int64), npz["features"].astype(np.float32),
                           float(npz["rms"]), float(npz["seconds"]))  # fmt: skip
        except (OSError, KeyError, EOFError, ValueError) as exc:
            raise ValueError(f"not a ZipVoice prompt: {exc}") from None


def target_frames(prompt_frames: int, prompt_tokens: int, text_tokens: int, speed: float) -> int:
    """Frames generated for the text: ceil(P·Nt / (Np·speed)) (ZipVoice's PyTorch duration rule)."""
    return math.ceil(prompt_frames * text_tokens / (prompt_tokens * speed) - 1e-9)


def chunk_tokens(tokens: list[str], max_tokens: int) -> list[list[str]]:
    """Split after sentence punctuation, then merge sentences greedily up to `max_tokens` each.

    Punctuation or a space that would open a sentence stays with the one before; a sentence longer than
    `max_tokens` is not split further.
    """
    sentences: list[list[str]] = []
    current: list[str] = []
    for token in tokens:
        if not current and sentences and (token in SENTENCE_PUNCTUATION or token == " "):
            sentences[-1].append(token)
            continue
        current.append(token)
        if token in SENTENCE_PUNCTUATION:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    chunks: list[list[str]] = []
    for sentence in sentences:
        if chunks and len(chunks[-1]) + len(sentence) <= max_tokens:
            chunks[-1] += sentence
        else:
            chunks.append(list(sentence))
    return chunks


def cross_fade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Linear cross-fade of two equally long pieces: `tail` fades 1 → 0 while `head` fades 0 → 1."""
    ramp = np.linspace(0.0, 1.0, len(tail), dtype=np.float32)
    return tail * (1.0 - ramp) + head * ramp


class Pipeline:
    """ONNX sessions of one model and the steps of a generation."""

    def __init__(self, paths: ModelPaths, *, runtime: str = "cpu", threads: int = 0,
                 cache_dir: Path | None = None, max_batch: int = 4) -> None:  # fmt: skip
        self.paths = paths
        self.runtime = runtime
        self.threads = threads
        self.cache_dir = cache_dir
        self.max_batch = max_batch
        self.timings: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self._encoder: Any = None
        self._decoder: Decoder | None = None
        self._vocoder: Vocoder | None = None
        self._tokenizer: Tokenizer | None = None

    def _session(self, path: Path, decoder: bool = False) -> Any:
        return open_session(path, self.runtime, threads=self.threads, cache_dir=self.cache_dir,
                            decoder=decoder, max_batch=self.max_batch)  # fmt: skip

    @property
    def encoder(self) -> Any:
        with self._lock:
            if self._encoder is None:
                self._encoder = self._session(self.paths.encoder)
            return self._encoder

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = Tokenizer.from_files(self.paths.tokens, metadata(self.encoder))
        return self._tokenizer

    @property
    def decoder(self) -> Decoder:
        with self._lock:
            if self._decoder is None:
                if self.runtime == "tensorrt-native":
                    from engines.zipvoice.trt_native import TrtDecoder

                    cache = self.cache_dir or self.paths.decoder.parent / "tensorrt"
                    self._decoder = TrtDecoder(self.paths.decoder, cache, max_batch=self.max_batch)
                else:
                    self._decoder = OrtDecoder(self._session(self.paths.decoder, decoder=True))
            return self._decoder

    @property
    def vocoder(self) -> Vocoder:
        with self._lock:
            if self._vocoder is None:
                self._vocoder = Vocoder(self._session(self.paths.vocoder))
            return self._vocoder

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage].append(time.perf_counter() - started)

    def prepare(self, audio: np.ndarray, rate: int, transcript: str) -> Prompt:
        """Tokens and features of a reference clip."""
        with self.timed("tokenize"):
            _, ids = self.tokenizer.encode(transcript)
        with self.timed("prompt_features"):
            features, rms, seconds = feats.prompt_features(audio, rate)
        return Prompt(np.asarray(ids, dtype=np.int64), features, rms, seconds)

    def text_condition(self, prompt: Prompt, ids: list[int], speed: float) -> np.ndarray:
        """The encoder's (1, L, 100) condition with L = P + target_frames(...), whatever the speed.

        The ONNX encoder computes L = ceil(P·(Np+Nt) / (Np·speed)), which also scales the prompt part (and
        leaves nothing to generate for short texts at high speed). Feeding it the speed
        (Np+Nt) / (Np + Nt/speed) gives PyTorch's rule instead; float32 rounding is fixed up afterwards.
        """
        n_p, n_t, frames = len(prompt.ids), len(ids), len(prompt.features)
        wanted = frames + target_frames(frames, n_p, n_t, speed)
        feeds = {"tokens": np.asarray([ids], dtype=np.int64), "prompt_tokens": prompt.ids[None, :],
                 "prompt_features_len": np.array(frames, dtype=np.int64),
                 "speed": np.array((n_p + n_t) / (n_p + n_t / speed), dtype=np.float32)}  # fmt: skip
        with self.timed("encoder"):
            condition = self.encoder.run(["text_condition"], feeds)[0]
        if condition.shape[1] > wanted:  # the extra frames are the pad token's filler at the end
            condition = condition[:, :wanted]
        elif condition.shape[1] < wanted:
            filler = np.repeat(condition[:, -1:], wanted - condition.shape[1], axis=1)
            condition = np.concatenate([condition, filler], axis=1)
        return np.ascontiguousarray(condition, dtype=np.float32)

    def generate(self, prompt: Prompt, ids: list[int], *, speed: float, steps: int, guidance: float,
                 shift: float, seed: int) -> np.ndarray:  # fmt: skip
        """Audio (float32, 24 kHz) for one chunk of token ids; the prompt part is removed."""
        text = self.text_condition(prompt, ids, speed)
        frames = len(prompt.features)
        speech = np.zeros_like(text)
        speech[0, :frames] = prompt.features
        noise = np.random.default_rng(seed).standard_normal(text.shape, dtype=np.float32)
        decoder = self.decoder

        def timed_decoder(t: float, x: np.ndarray, tc: np.ndarray, sc: np.ndarray, g: float) -> np.ndarray:
            with self.timed("decoder_step"):
                return decoder(t, x, tc, sc, g)

        x = sample(timed_decoder, text, speech, guidance=guidance, steps=steps, shift=shift, noise=noise)
        mel = np.ascontiguousarray((x[:, frames:] / feats.FEAT_SCALE).transpose(0, 2, 1))
        vocoder = self.vocoder
        with self.timed("vocoder"):
            spectrum = vocoder.spectrum(mel)
        with self.timed("istft"):
            audio = istft(spectrum, vocoder.n_fft, vocoder.hop)
        audio = np.clip(audio, -1.0, 1.0)
        if prompt.rms < feats.TARGET_RMS:  # give the voice its own loudness back
            audio = audio * np.float32(prompt.rms / feats.TARGET_RMS)
        return audio
