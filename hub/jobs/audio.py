"""A job's audio: each chunk leveled to one loudness, joined with short pauses, written as one file.

Formats: m4b / m4a (AAC in MP4 with one chapter marker per chapter, which audiobook players show), zip
(one WAV file per chapter, numbered, with the chapter title in the name), or any of the speech formats
(hub.rules.OUTPUT_FORMATS) as one file without markers; GET /v1/jobs/{id} lists the chapters' start
times either way.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from hub.rules import OUTPUT_FORMATS

CONTAINER_TYPES = {"m4b": "audio/mp4", "m4a": "audio/mp4", "zip": "application/zip"}
"""The formats only a whole job is written in (chapter markers, a file per chapter), with content types."""
JOB_FORMATS = (*CONTAINER_TYPES, *OUTPUT_FORMATS)
"""What a job's audio can be: a container, or any speech format (hub.rules) as one file."""
_MIN_LOUDNESS_S = 0.5  # BS.1770 gating needs 400 ms blocks: shorter chunks keep their own level


def level(pcm: bytes, rate: int, target_lufs: float) -> bytes:
    """s16 mono `pcm` normalized to `target_lufs` integrated loudness (EBU R128 / BS.1770, pyloudnorm)."""
    import pyloudnorm

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    if len(samples) < _MIN_LOUDNESS_S * rate:
        return pcm
    loudness = pyloudnorm.Meter(rate).integrated_loudness(samples)
    if not np.isfinite(loudness):  # silence: nothing to level
        return pcm
    leveled = pyloudnorm.normalize.loudness(samples, loudness, target_lufs)
    peak = float(np.max(np.abs(leveled))) or 1.0
    if peak > 0.99:  # never clip: a quieter chunk beats a distorted one
        leveled = leveled * (0.99 / peak)
    return (np.clip(leveled, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


@dataclass(frozen=True)
class Piece:
    chapter: int
    pcm: bytes
    rate: int


@dataclass(frozen=True)
class Mark:
    title: str
    start_s: float
    end_s: float


def join(
    pieces: list[Piece], titles: list[str], pause_ms: int, chapter_pause_ms: int
) -> tuple[bytes, int, list[Mark]]:
    """All pieces as one s16 stream (at the first piece's rate) and where each chapter starts and ends."""
    rate = pieces[0].rate
    out = bytearray()
    marks: list[Mark] = []
    starts: dict[int, int] = {}
    for i, piece in enumerate(pieces):
        if piece.rate != rate:
            raise ValueError(f"chunks of one job have different rates ({piece.rate} and {rate})")
        if i:
            gap = chapter_pause_ms if piece.chapter != pieces[i - 1].chapter else pause_ms
            out += bytes(2 * (rate * gap // 1000))
        starts.setdefault(piece.chapter, len(out) // 2)
        out += piece.pcm
    order = sorted(starts)
    total = len(out) // 2
    for n, chapter in enumerate(order):
        end = starts[order[n + 1]] if n + 1 < len(order) else total
        title = titles[chapter] if chapter < len(titles) and titles[chapter] else f"Chapter {n + 1}"
        marks.append(Mark(title, starts[chapter] / rate, end / rate))
    return bytes(out), rate, marks


def write_mp4(pcm: bytes, rate: int, marks: list[Mark]) -> bytes:
    """AAC in an MP4 (m4b) with a chapter marker per mark."""
    import av

    out = io.BytesIO()
    container = av.open(out, "w", format="ipod")
    stream = container.add_stream("aac", rate=rate, layout="mono")
    stream.bit_rate = 64000
    base = Fraction(1, 1000)
    container.set_chapters([
        {"id": n + 1, "start": round(m.start_s * 1000), "end": round(m.end_s * 1000), "time_base": base,
         "metadata": {"title": m.title}}
        for n, m in enumerate(marks)
    ])  # fmt: skip
    samples = np.frombuffer(pcm, dtype="<i2")
    step = rate * 10
    for start in range(0, len(samples), step):
        block = samples[start : start + step].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    container.close()
    return out.getvalue()


def write_zip(pcm: bytes, rate: int, marks: list[Mark]) -> bytes:
    """One WAV per chapter: 01-Title.wav, 02-...; the pause before a chapter stays with the one before it."""
    from engines.core.interface import AudioChunk
    from hub import audio

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, mark in enumerate(marks):
            part = pcm[int(mark.start_s * rate) * 2 : round(mark.end_s * rate) * 2]
            name = re.sub(r"[^\w\- ]+", "", mark.title).strip()[:60] or f"Chapter {n + 1}"
            archive.writestr(f"{n + 1:02d}-{name}.wav", audio.encode("wav", AudioChunk(rate, 2, 1, part)))
    return out.getvalue()


def render(fmt: str, pcm: bytes, rate: int, marks: list[Mark]) -> tuple[bytes, str]:
    """The job's file in `fmt` and its content type."""
    if fmt in ("m4b", "m4a"):
        return write_mp4(pcm, rate, marks), CONTAINER_TYPES[fmt]
    if fmt == "zip":
        return write_zip(pcm, rate, marks), CONTAINER_TYPES[fmt]
    from engines.core.interface import AudioChunk
    from hub import audio

    return audio.encode(fmt, AudioChunk(rate, 2, 1, pcm)), audio.CONTENT_TYPES[fmt]
