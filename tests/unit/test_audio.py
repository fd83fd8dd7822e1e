"""hub.audio: encode real signals in every format, decode them back independently, check what one hears."""

from __future__ import annotations

import io
from collections.abc import Callable

import av
import numpy as np
import pytest
import soundfile as sf
from av.audio.stream import AudioStream

from engines.core.interface import AudioChunk
from hub import audio, rules
from hub.audio import decoding
from hub.errors import BadAudio, UnsupportedFormat

RATE = 22050
SECONDS = 3.0
TONE = 440.0
# Decoded length may exceed the input by the codec's priming and last-frame padding, which ADTS and a
# streamed mp3 cannot signal: AAC up to 2 x 1024 samples (93 ms at 22.05 kHz), LAME about 1.2k samples.
PADDING = {"mp3": 0.060, "aac": 0.095, "opus": 0.010, "flac": 0.0, "wav": 0.0, "pcm": 0.0}
LOSSLESS = ("flac", "wav", "pcm")


def tone(rate: int = RATE, seconds: float = SECONDS, freq: float = TONE) -> np.ndarray:
    """A voice-like test signal: a fundamental with two weaker harmonics, peak about 0.6."""
    t = np.arange(round(rate * seconds)) / rate
    return (
        0.45 * np.sin(2 * np.pi * freq * t)
        + 0.2 * np.sin(2 * np.pi * 2 * freq * t)
        + 0.1 * np.sin(2 * np.pi * 3 * freq * t)
    ).astype(np.float32)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))


def av_decode(data: bytes) -> tuple[np.ndarray, int]:
    """Reference decoder, independent of hub.audio: PyAV to mono float32."""
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono")
        frames = [f for frame in container.decode(stream) for f in resampler.resample(frame)]
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]), frames[0].sample_rate


def av_file(muxer: str, codec: str, x: np.ndarray, rate: int, **stream_kw: object) -> bytes:
    """Write (channels, samples) float audio with PyAV's encoders into a complete in-memory file."""
    out = io.BytesIO()
    with av.open(out, "w", format=muxer) as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo" if x.shape[0] == 2 else "mono")
        assert isinstance(stream, AudioStream)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(x, dtype=np.float32), format="fltp", layout=stream.layout.name
        )
        frame.sample_rate = rate
        for key, value in stream_kw.items():
            setattr(stream, key, value)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def sf_file(x: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    out = io.BytesIO()
    sf.write(out, x, rate, format=fmt, subtype=subtype)
    return out.getvalue()


@pytest.fixture
def decoded_samples(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on PyAV decoding in hub.audio: how many samples it decoded, frame by frame."""
    seen: list[int] = []
    real = decoding._frame_to_float

    def spy(frame: av.AudioFrame) -> np.ndarray:
        seen.append(frame.samples)
        return real(frame)

    monkeypatch.setattr(decoding, "_frame_to_float", spy)
    return seen


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    return tone()


@pytest.fixture(scope="module")
def pcm(signal: np.ndarray) -> bytes:
    return audio.float_to_pcm16(signal)


def stream_encode(fmt: str, pcm: bytes, piece: int = 4411) -> tuple[list[bytes], bytes]:
    """Feed ~0.1 s pieces (an odd byte count, so samples straddle feeds); return the outputs and the tail."""
    encoder = audio.open_encoder(fmt, RATE)
    outputs = [encoder.feed(pcm[i : i + piece]) for i in range(0, len(pcm), piece)]
    return outputs, encoder.finish()


def check_listenable(fmt: str, data: bytes, signal: np.ndarray) -> None:
    if fmt == "pcm":
        decoded, rate = audio.pcm16_to_float(data), RATE
    else:
        decoded, rate = av_decode(data)
    assert rate == (48000 if fmt == "opus" else RATE)
    extra = len(decoded) / rate - SECONDS
    assert -0.005 <= extra <= PADDING[fmt] + 0.005, f"{fmt}: {extra * 1000:.0f} ms longer than the input"
    assert dominant_hz(decoded, rate) == pytest.approx(TONE, abs=2)
    assert np.max(np.abs(decoded)) < 0.95, "clipped"
    assert rms_db(decoded) == pytest.approx(rms_db(signal), abs=1.0), "loudness changed"
    if fmt in LOSSLESS:
        np.testing.assert_array_equal(audio.float_to_pcm16(decoded), audio.float_to_pcm16(signal))


@pytest.mark.parametrize("fmt", rules.OUTPUT_FORMATS)
def test_streaming_encode_is_a_valid_file_that_sounds_right(fmt: str, pcm: bytes, signal: np.ndarray) -> None:
    outputs, tail = stream_encode(fmt, pcm)
    early = sum(map(len, outputs))
    # Really streaming: the bulk of the file went out while audio was still arriving.
    assert early > 0.5 * (early + len(tail)), (
        f"{fmt}: only {early} of {early + len(tail)} bytes before finish"
    )
    assert outputs[1] or outputs[2], f"{fmt}: nothing after the first 0.2 s"
    check_listenable(fmt, b"".join(outputs) + tail, signal)


@pytest.mark.parametrize("fmt", rules.OUTPUT_FORMATS)
def test_one_shot_encode_sounds_right(fmt: str, pcm: bytes, signal: np.ndarray) -> None:
    check_listenable(fmt, audio.encode(fmt, AudioChunk(rate=RATE, width=2, channels=1, audio=pcm)), signal)


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_one_shot_headers_carry_exact_lengths(fmt: str, pcm: bytes) -> None:
    info = sf.info(io.BytesIO(audio.encode(fmt, AudioChunk(RATE, 2, 1, pcm))))
    assert (info.frames, info.samplerate, info.channels) == (len(pcm) // 2, RATE, 1)


def test_one_shot_mp3_has_gapless_info(pcm: bytes) -> None:
    # A seekable output lets the muxer write the LAME tag, so decoders trim priming and padding.
    decoded, _ = av_decode(audio.encode("mp3", AudioChunk(RATE, 2, 1, pcm)))
    assert len(decoded) == len(pcm) // 2


def test_streamed_wav_has_open_sizes_and_soundfile_reads_it(pcm: bytes) -> None:
    outputs, tail = stream_encode("wav", pcm)
    data = b"".join(outputs) + tail
    assert data[4:8] == data[40:44] == b"\xff\xff\xff\xff"  # like OpenAI's streamed wav
    assert outputs[0][:4] == b"RIFF"
    decoded, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == RATE and decoded.tobytes() == pcm


def test_stereo_encoding_keeps_both_channels() -> None:
    left, right = tone(freq=440), tone(freq=660)
    interleaved = audio.float_to_pcm16(np.stack([left, right], axis=1).reshape(-1))
    data = audio.encode("opus", AudioChunk(RATE, 2, 2, interleaved))
    with av.open(io.BytesIO(data), "r") as container:
        frames = list(container.decode(audio=0))
    planes = np.concatenate([f.to_ndarray() for f in frames], axis=1)
    assert planes.shape[0] == 2
    assert dominant_hz(planes[0], 48000) == pytest.approx(440, abs=2)
    assert dominant_hz(planes[1], 48000) == pytest.approx(660, abs=2)


def test_empty_stream_is_still_a_valid_wav() -> None:
    data = audio.open_encoder("wav", RATE).finish()
    assert sf.info(io.BytesIO(data)).samplerate == RATE


def test_feed_after_finish_is_refused() -> None:
    encoder = audio.open_encoder("mp3", RATE)
    encoder.finish()
    assert encoder.finish() == b""
    with pytest.raises(RuntimeError):
        encoder.feed(b"\0\0")


@pytest.mark.parametrize(
    "call",
    [lambda: audio.open_encoder("ogg", RATE), lambda: audio.encode("MP4", AudioChunk(RATE, 2, 1, b""))],
    ids=["open_encoder", "encode"],
)
def test_unknown_format_lists_the_supported_ones(call: Callable[[], object]) -> None:
    with pytest.raises(UnsupportedFormat) as err:
        call()
    assert all(fmt in err.value.message for fmt in rules.OUTPUT_FORMATS)


def test_content_types_cover_every_format() -> None:
    assert set(audio.CONTENT_TYPES) == set(rules.OUTPUT_FORMATS)
    assert audio.CONTENT_TYPES["mp3"] == "audio/mpeg" and audio.CONTENT_TYPES["opus"] == "audio/ogg"


# ---- decoding uploads ----

CONTAINERS = {
    # name: (source rate, builder of a complete file from mono float samples)
    "wav": (44100, lambda x, r: sf_file(x, r, "WAV", "PCM_16")),
    "flac": (44100, lambda x, r: sf_file(x, r, "FLAC")),
    "mp3": (44100, lambda x, r: av_file("mp3", "libmp3lame", x[None], r)),
    "ogg-vorbis": (44100, lambda x, r: sf_file(x, r, "OGG", "VORBIS")),
    "ogg-opus": (48000, lambda x, r: sf_file(x, r, "OGG", "OPUS")),
    "m4a-aac": (44100, lambda x, r: av_file("ipod", "aac", x[None], r)),
    "webm-opus": (48000, lambda x, r: av_file("webm", "libopus", x[None], r)),
}


@pytest.mark.parametrize("name", CONTAINERS)
def test_decode_every_container_to_mono_at_target_rate(name: str) -> None:
    src_rate, build = CONTAINERS[name]
    y, rate = audio.decode_audio(build(tone(src_rate, 2.0), src_rate), target_rate=16000)
    assert rate == 16000 and y.dtype == np.float32 and y.ndim == 1
    assert 2.0 - 0.005 <= len(y) / rate <= 2.0 + 0.06
    assert dominant_hz(y, rate) == pytest.approx(TONE, abs=2)
    assert y.min() >= -1.0 and y.max() <= 1.0 and np.max(np.abs(y)) > 0.5


def test_decode_without_target_keeps_the_native_rate() -> None:
    y, rate = audio.decode_audio(sf_file(tone(), RATE, "WAV", "PCM_16"))
    assert rate == RATE and len(y) == round(RATE * SECONDS)


def test_decode_clips_overshoot_to_full_scale() -> None:
    y, _ = audio.decode_audio(sf_file(2.0 * tone(seconds=0.5), RATE, "WAV", "FLOAT"))
    assert y.max() == 1.0 and y.min() == -1.0  # the tone peaks at ±1.18 here


@pytest.mark.parametrize("path", ["soundfile", "pyav"])
def test_decode_downmixes_stereo_by_averaging(path: str) -> None:
    left, right = tone(freq=440) * 0.9, tone(freq=660) * 0.5
    stereo = np.stack([left, right], axis=1)
    if path == "soundfile":
        data = sf_file(stereo, RATE, "WAV", "FLOAT")
    else:  # a streamed (length-unknown) flac, which only FFmpeg reads
        encoder = audio.open_encoder("flac", RATE, channels=2)
        data = encoder.feed(audio.float_to_pcm16(stereo.reshape(-1))) + encoder.finish()
    y, rate = audio.decode_audio(data)
    assert rate == RATE
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-4)


def test_decode_reads_streamed_wav_and_flac(pcm: bytes, signal: np.ndarray) -> None:
    for fmt in ("wav", "flac"):
        outputs, tail = stream_encode(fmt, pcm)
        y, rate = audio.decode_audio(b"".join(outputs) + tail)
        assert rate == RATE
        np.testing.assert_allclose(y, signal, atol=1 / 32768)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)), "not audio"),
        (b"just some text, not a recording\n" * 50, "not audio"),
    ],
    ids=["empty", "noise-bytes", "text"],
)
def test_decode_refuses_non_audio(data: bytes, words: str) -> None:
    with pytest.raises(BadAudio, match=words) as err:
        audio.decode_audio(data)
    assert "upload a wav" in err.value.message  # says what to do


@pytest.mark.parametrize("cut", ["wav-header-only", "opus-headers-only", "flac-streaminfo-only"])
def test_decode_refuses_truncated_files_with_no_audio(cut: str, pcm: bytes) -> None:
    chunk = AudioChunk(RATE, 2, 1, pcm)
    data = {
        "wav-header-only": audio.encode("wav", chunk)[:44],
        "opus-headers-only": audio.encode("opus", chunk)[:150],
        "flac-streaminfo-only": audio.encode("flac", chunk)[:100],
    }[cut]
    with pytest.raises(BadAudio, match="truncated"):
        audio.decode_audio(data)


def test_decode_keeps_the_audio_before_a_truncation(pcm: bytes) -> None:
    data = audio.encode("mp3", AudioChunk(RATE, 2, 1, pcm))
    y, rate = audio.decode_audio(data[: len(data) // 2])
    assert 1.0 < len(y) / rate < 2.0
    assert dominant_hz(y, rate) == pytest.approx(TONE, abs=2)


def test_decode_refuses_long_audio_from_the_header_before_decoding(decoded_samples: list[int]) -> None:
    m4a = av_file("ipod", "aac", tone()[None], RATE)
    with pytest.raises(BadAudio, match=r"3\.0 s long but at most 2 s .*trim"):
        audio.decode_audio(m4a, max_seconds=2)
    assert decoded_samples == []  # refused on the container's word, nothing decoded


def test_decode_refuses_long_audio_from_a_soundfile_header(pcm: bytes) -> None:
    # Only the first ~1 s of this flac is present, but STREAMINFO says 3 s: the header decides.
    flac = audio.encode("flac", AudioChunk(RATE, 2, 1, pcm))
    with pytest.raises(BadAudio, match=r"3\.0 s long"):
        audio.decode_audio(flac[: len(flac) // 3], max_seconds=2)


def test_decode_stops_early_when_no_header_gives_the_length(pcm: bytes, decoded_samples: list[int]) -> None:
    outputs, tail = stream_encode("flac", pcm * 4)  # 12 s, length unknown to the header
    with pytest.raises(BadAudio, match="longer than the 2 s allowed"):
        audio.decode_audio(b"".join(outputs) + tail, max_seconds=2)
    assert 2.0 < sum(decoded_samples) / RATE < 2.5  # stopped at the limit, not after decoding all 12 s


def test_decode_tolerates_codec_padding_at_the_limit(pcm: bytes) -> None:
    outputs, tail = stream_encode("aac", pcm)  # 3 s of speech plus ~65 ms of AAC padding
    y, _ = audio.decode_audio(b"".join(outputs) + tail, max_seconds=SECONDS)
    assert len(y) > 0
    with pytest.raises(BadAudio):
        audio.decode_audio(b"".join(outputs) + tail, max_seconds=SECONDS - 0.5)


# ---- small helpers ----


def test_pcm16_round_trip_is_exact() -> None:
    every = np.arange(-32768, 32768, dtype="<i2").tobytes()
    x = audio.pcm16_to_float(every)
    assert x.dtype == np.float32 and x.min() == -1.0 and x.max() < 1.0
    assert audio.float_to_pcm16(x) == every


def test_float_to_pcm16_clips_rounds_and_silences_nan() -> None:
    x = np.array([1.5, -1.5, 0.5, 0.6 / 32768, 0.4 / 32768, -0.6 / 32768, np.nan])
    assert np.frombuffer(audio.float_to_pcm16(x), "<i2").tolist() == [32767, -32768, 16384, 1, 0, -1, 0]


@pytest.mark.parametrize(("src", "dst"), [(22050, 16000), (16000, 48000), (44100, 22050)])
def test_resample_preserves_the_tone_and_length(src: int, dst: int) -> None:
    x = 0.5 * np.sin(2 * np.pi * TONE * np.arange(2 * src) / src)
    y = audio.resample(x, src, dst)
    assert y.dtype == np.float32 and len(y) == 2 * dst
    ideal = 0.5 * np.sin(2 * np.pi * TONE * np.arange(len(y)) / dst)
    assert np.max(np.abs(y - ideal)[100:-100]) < 1e-3  # in phase, no ripple, no delay


def test_resample_is_band_limited() -> None:
    # 9 kHz cannot exist at 16 kHz; a naive resampler folds it back to 7 kHz.
    x = 0.5 * np.sin(2 * np.pi * 9000 * np.arange(RATE) / RATE)
    y = audio.resample(x, RATE, 16000)
    assert rms_db(y[200:-200]) < rms_db(x) - 80  # swr's default filter only manages ~60 dB


def test_resample_same_rate_is_a_copy() -> None:
    x = tone(seconds=0.1)
    y = audio.resample(x, RATE, RATE)
    np.testing.assert_array_equal(x, y)
    assert y is not x
