"""The Piper engine: phoneme ids, voice discovery, a tiny multi-speaker ONNX voice, the real offline voice."""

from __future__ import annotations

import json
import logging
import string
from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import ConfigError, EngineError, InvalidOption
from engines.core.interface import AudioChunk, SynthesisRequest
from engines.piper.engine import PiperEngine
from engines.piper.phonemize import EspeakPhonemizer, phoneme_ids, split_sentences
from engines.piper.voices import normalize_language

REAL = "en_US-joe-medium"
HOP = 64  # samples per phoneme id of the tiny voice (at length_scale 1)
TINY_RATE = 16000


def never() -> bool:
    return False


def pcm(chunks: list[AudioChunk]) -> np.ndarray:
    return np.concatenate([np.frombuffer(c.audio, dtype="<i2") for c in chunks]).astype(np.float64) / 32767.0


def say(engine: PiperEngine, text: str, voice: str = REAL, **kw) -> list[AudioChunk]:
    return list(engine.synthesize(SynthesisRequest(text=text, voice=voice, **kw), never))


# -- the tiny voice ------------------------------------------------------------------------------------------


def tiny_model(path: Path, *, with_sid: bool = True) -> None:
    """A Piper-shaped ONNX graph: output = 0.1·noise_w + 0.1·(sid+1)·noise_scale·sin(0.3·t),
    with t in 0 .. N·HOP·length_scale, N = the number of phoneme ids."""
    import onnx  # declared in the test extra: missing, this fails rather than skips
    from onnx import TensorProto, helper

    c = helper.make_tensor
    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        helper.make_node("Gather", ["shape", "one_i"], ["n"]),
        helper.make_node("Cast", ["n"], ["n_f"], to=TensorProto.FLOAT),
        helper.make_node("Gather", ["scales", "zero_i"], ["noise_scale"]),
        helper.make_node("Gather", ["scales", "one_i"], ["length_scale"]),
        helper.make_node("Gather", ["scales", "two_i"], ["noise_w"]),
        helper.make_node("Mul", ["n_f", "hop"], ["s0"]),
        helper.make_node("Mul", ["s0", "length_scale"], ["s1"]),
        helper.make_node("Cast", ["s1"], ["s"], to=TensorProto.INT64),
        helper.make_node("Range", ["zero_i", "s", "one_i"], ["t"]),
        helper.make_node("Cast", ["t"], ["t_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["t_f", "freq"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["noise_w", "tenth"], ["dc"]),
    ]
    if with_sid:
        nodes += [
            helper.make_node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
            helper.make_node("Add", ["sid_f", "one_f"], ["sid1"]),
            helper.make_node("Mul", ["sid1", "tenth"], ["amp0"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["tenth"], ["amp0"]))
    nodes += [
        helper.make_node("Mul", ["amp0", "noise_scale"], ["amp"]),
        helper.make_node("Mul", ["wave", "amp"], ["scaled"]),
        helper.make_node("Add", ["scaled", "dc"], ["flat"]),
        helper.make_node("Reshape", ["flat", "out_shape"], ["output"]),
    ]
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.INT64, [1, "N"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    if with_sid:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
    graph = helper.make_graph(
        nodes,
        "tiny_piper",
        inputs,
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "S"])],
        initializer=[
            c("zero_i", TensorProto.INT64, [], [0]),
            c("one_i", TensorProto.INT64, [], [1]),
            c("two_i", TensorProto.INT64, [], [2]),
            c("one_f", TensorProto.FLOAT, [], [1.0]),
            c("tenth", TensorProto.FLOAT, [], [0.1]),
            c("freq", TensorProto.FLOAT, [], [0.3]),
            c("hop", TensorProto.FLOAT, [], [float(HOP)]),
            c("out_shape", TensorProto.INT64, [3], [1, 1, -1]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def tiny_config(**overrides) -> dict:
    id_map = {"_": [0], "^": [1], "$": [2], " ": [3], ".": [4], "!": [5], "?": [6], ",": [7]}
    for i, letter in enumerate(string.ascii_lowercase):
        id_map[letter] = [10 + i]
    config = {
        "audio": {"sample_rate": TINY_RATE, "quality": "x_low"},
        "espeak": {"voice": "en-gb"},
        "language": {"code": "en_GB"},
        "dataset": "tiny_trio",
        "license": "CC0-1.0",
        "inference": {"noise_scale": 0.5, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "text",
        "num_symbols": 40,
        "num_speakers": 3,
        "speaker_id_map": {"alice": 0, "bob": 1, "carol": 2},
        "phoneme_id_map": id_map,
    }
    config.update(overrides)
    return config


def write_voice(directory: Path, name: str, config: dict, model: bool | str = True) -> Path:
    """NAME.onnx (the tiny model, or `model` as raw text) + NAME.onnx.json in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    onnx_path = directory / f"{name}.onnx"
    if model is True:
        tiny_model(onnx_path, with_sid=config.get("num_speakers", 1) > 1)
    else:
        onnx_path.write_text(str(model))
    (directory / f"{name}.onnx.json").write_text(json.dumps(config))
    return onnx_path


@pytest.fixture
def tiny(tmp_path: Path) -> PiperEngine:
    write_voice(tmp_path / "voices", "en_GB-trio-x_low", tiny_config())
    return PiperEngine({"voice_dirs": [str(tmp_path / "voices")], "threads": 1})


def n_ids(text: str) -> int:
    """Ids for `text` on the tiny voice (text phonemes, every known char one id): ^ _ (id _)* $."""
    return 3 + 2 * len(text)


# -- phoneme ids, sentences, languages -----------------------------------------------------------------------


def test_phoneme_ids_bos_pads_eos_and_unknown_dropped() -> None:
    id_map = {"_": [0], "^": [1], "$": [2], "a": [5], "b": [6, 7], " ": [3]}
    ids, missing = phoneme_ids("ab a?", id_map)
    assert ids == [1, 0, 5, 0, 6, 7, 0, 3, 0, 5, 0, 2]
    assert missing == ["?"]
    assert phoneme_ids("", id_map) == ([1, 0, 2], [])


def test_phoneme_ids_are_taken_after_nfd() -> None:
    id_map = {"_": [0], "^": [1], "$": [2], "e": [5], "\u0301": [9]}
    assert phoneme_ids("\u00e9", id_map) == ([1, 0, 5, 0, 9, 0, 2], [])  # é → e + combining acute
    del id_map["\u0301"]
    assert phoneme_ids("\u00e9", id_map) == ([1, 0, 5, 0, 2], ["\u0301"])


def test_split_sentences() -> None:
    assert split_sentences("Hello there. How are you? Fine!") == ["Hello there.", "How are you?", "Fine!"]
    assert split_sentences('He said "stop." Then he left… ok') == ['He said "stop."', "Then he left…", "ok"]
    assert split_sentences("It costs 3.5 euros.\nYes") == ["It costs 3.5 euros.", "Yes"]
    assert split_sentences("  ... !  ") == []


def test_normalize_language() -> None:
    assert normalize_language("en-us") == "en_US"
    assert normalize_language("EN_gb") == "en_GB"
    assert normalize_language("de") == "de"


def test_espeak_keeps_stress_and_punctuation() -> None:
    out = EspeakPhonemizer().phonemize(["Hello, world!", "", "Good night."], "en-us")
    assert out[0] == "həlˈoʊ, wˈɜːld!"
    assert out[1] == ""
    assert out[2].endswith(".") and "ˈ" in out[2]


def test_phonemizer_warnings_stay_off_the_console(caplog, capfd) -> None:
    # mixed scripts make phonemizer warn "words count mismatch" on every call
    with caplog.at_level(logging.DEBUG):
        EspeakPhonemizer().phonemize(["He said 你好 to me."], "en-us")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert capfd.readouterr().err == ""


# -- config and discovery ------------------------------------------------------------------------------------


def test_config_values_from_the_environment_are_coerced(tmp_path: Path) -> None:
    engine = PiperEngine({"voice_dirs": f"{tmp_path}/a, {tmp_path}/b", "threads": "2", "noise_scale": "0.5"})
    assert engine.voice_dirs == [tmp_path / "a", tmp_path / "b"]
    assert (engine.threads, engine.noise_scale, engine.noise_w) == (2, 0.5, None)
    assert PiperEngine({"noise_w": ""}).noise_w is None
    with pytest.raises(ConfigError, match="threads"):
        PiperEngine({"threads": "many"})
    with pytest.raises(ConfigError, match="noise_w"):
        PiperEngine({"noise_w": "-1"})


def test_discovery(tmp_path: Path, caplog) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_voice(first, "aa-flat-low", tiny_config(num_speakers=1, speaker_id_map={}), model="not onnx")
    nested = first / "en" / "en_GB" / "deep" / "medium"
    write_voice(nested, "en_GB-deep-medium", tiny_config(language={}, espeak={"voice": "en-gb-x-rp"}), "x")
    (first / "orphan.onnx").write_text("no json")
    (first / "lonely.onnx.json").write_text(json.dumps(tiny_config()))
    (first / "broken.onnx").write_text("x")
    (first / "broken.onnx.json").write_text("{not json")
    write_voice(first, "zh-pinyin", tiny_config(phoneme_type="pinyin"), model="x")
    write_voice(second, "aa-flat-low", tiny_config(dataset="other"), model="x")

    engine = PiperEngine({"voice_dirs": [str(first), str(second), str(tmp_path / "missing")]})
    with caplog.at_level(logging.WARNING):
        info = engine.info()
    voices = {v.name: v for v in info.voices}
    assert sorted(voices) == ["aa-flat-low", "en_GB-deep-medium", REAL]
    flat = voices["aa-flat-low"]
    assert flat.description == "Tiny Trio (en_GB, x_low)"  # the first dir wins
    assert flat.speakers == () and flat.sample_rate == TINY_RATE
    assert flat.attribution == "dataset tiny_trio, licence CC0-1.0"
    deep = voices["en_GB-deep-medium"]
    assert deep.languages == ("en_GB",)  # from espeak.voice en-gb-x-rp when language.code is absent
    assert deep.speakers == ("alice", "bob", "carol")
    logged = caplog.text
    assert "broken" in logged and "zh-pinyin" in logged and "missing" in logged
    assert engine._sessions == {}  # info() never loads a model (these are not even ONNX files)
    with pytest.raises(EngineError, match="cannot load piper voice 'aa-flat-low'"):
        say(engine, "hello", "aa-flat-low")


def test_a_voice_added_later_is_found(tmp_path: Path) -> None:
    engine = PiperEngine({"voice_dirs": [str(tmp_path)]})
    assert [v.name for v in engine.info().voices] == [REAL]
    write_voice(tmp_path, "late-voice-low", tiny_config())
    assert len(say(engine, "hi", "late-voice-low")) == 1


# -- the tiny multi-speaker voice ----------------------------------------------------------------------------


def test_tiny_voice_listed_with_speakers(tiny: PiperEngine) -> None:
    info = tiny.info()
    assert (info.name, info.cloning) == ("piper", False) and info.version
    voice = next(v for v in info.voices if v.name == "en_GB-trio-x_low")
    assert voice.speakers == ("alice", "bob", "carol")
    assert voice.languages == ("en_GB",) and voice.sample_rate == TINY_RATE and voice.engine == "piper"


def test_tiny_voice_ids_and_length(tiny: PiperEngine) -> None:
    [chunk] = say(tiny, "hello world", "en_GB-trio-x_low")
    assert (chunk.rate, chunk.width, chunk.channels) == (TINY_RATE, 2, 1)
    assert chunk.samples == n_ids("hello world") * HOP
    # NFD splits é into e + U+0301, unknown to the voice: dropped (and logged), e kept
    [accented] = say(tiny, "h\u00e9llo", "en_GB-trio-x_low")
    assert accented.samples == n_ids("hello") * HOP


def test_tiny_voice_speed_scales_length(tiny: PiperEngine) -> None:
    base = n_ids("hello world") * HOP
    assert say(tiny, "hello world", "en_GB-trio-x_low", speed=2.0)[0].samples == base // 2
    assert say(tiny, "hello world", "en_GB-trio-x_low", speed=0.5)[0].samples == base * 2
    with pytest.raises(EngineError, match="speed"):
        say(tiny, "hello", "en_GB-trio-x_low", speed=0.0)


def test_tiny_voice_speakers_by_name_and_id(tiny: PiperEngine) -> None:
    def amplitude(speaker: str | None) -> float:
        audio = pcm(say(tiny, "hello world", "en_GB-trio-x_low", speaker=speaker))
        return float(np.std(audio) * np.sqrt(2))

    default, alice, bob, carol, two = (amplitude(s) for s in (None, "alice", "bob", "carol", "2"))
    # amplitude = 0.1 · (sid + 1) · noise_scale (0.5 from the voice's json)
    assert alice == pytest.approx(0.05, rel=0.05) and default == pytest.approx(alice, rel=0.01)
    assert bob == pytest.approx(0.10, rel=0.05)
    assert carol == pytest.approx(0.15, rel=0.05) and two == pytest.approx(carol, rel=0.01)
    with pytest.raises(InvalidOption, match=r"no speaker 'dave'.*alice, bob, carol") as err:
        say(tiny, "hello", "en_GB-trio-x_low", speaker="dave")
    assert (err.value.param, err.value.status) == ("options.speaker", 400)
    with pytest.raises(InvalidOption, match="no speaker '3'"):
        say(tiny, "hello", "en_GB-trio-x_low", speaker="3")


def test_noise_from_json_or_config_and_clipping(tmp_path: Path) -> None:
    write_voice(tmp_path, "en_GB-trio-x_low", tiny_config())
    default = pcm(say(PiperEngine({"voice_dirs": [str(tmp_path)]}), "hello world", "en_GB-trio-x_low"))
    assert np.mean(default) == pytest.approx(0.08, abs=0.005)  # 0.1 · noise_w 0.8 from the json
    shifted = pcm(
        say(PiperEngine({"voice_dirs": [str(tmp_path)], "noise_w": "0.2"}), "hello world", "en_GB-trio-x_low")
    )
    assert np.mean(shifted) == pytest.approx(0.02, abs=0.005)  # noise_w from the config
    assert np.std(shifted) == pytest.approx(np.std(default), rel=0.01)  # noise_scale still the json's
    engine = PiperEngine({"voice_dirs": [str(tmp_path)], "noise_scale": "20"})
    loud = pcm(say(engine, "hello world", "en_GB-trio-x_low"))  # 0.08 + 2.0 · sin: clipped
    assert loud.max() == pytest.approx(1.0) and loud.min() == pytest.approx(-1.0)
    assert np.mean(np.abs(loud) > 0.999) > 0.3  # clipped to the rails, not wrapped around


def test_sentences_become_chunks_and_stop_between_them(tiny: PiperEngine) -> None:
    chunks = say(tiny, "one. two three! ... four?", "en_GB-trio-x_low")
    assert [c.samples for c in chunks] == [n_ids(s) * HOP for s in ("one.", "two three!", "four?")]
    request = SynthesisRequest(text="one. two. three.", voice="en_GB-trio-x_low")
    produced: list[AudioChunk] = []
    for chunk in tiny.synthesize(request, lambda: len(produced) >= 1):
        produced.append(chunk)
    assert len(produced) == 1
    assert say(tiny, "  ...  ", "en_GB-trio-x_low") == []


def test_unknown_espeak_voice_is_an_engine_error(tmp_path: Path) -> None:
    write_voice(tmp_path, "xx-odd-low", tiny_config(phoneme_type="espeak", espeak={"voice": "xx-nowhere"}))
    with pytest.raises(EngineError, match="espeak-ng"):
        say(PiperEngine({"voice_dirs": [str(tmp_path)]}), "hello", "xx-odd-low")


# -- the real offline voice ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> PiperEngine:
    return PiperEngine({"threads": 2})


@pytest.mark.slow
def test_real_voice_is_listed(real: PiperEngine) -> None:
    voice = next(v for v in real.info().voices if v.name == REAL)
    assert voice.sample_rate == 22050 and voice.languages == ("en_US",)
    assert voice.description == "Joe (en_US, medium)" and voice.speakers == ()
    assert "CC0" in voice.attribution


@pytest.mark.slow
def test_real_voice_speaks_a_sentence(real: PiperEngine) -> None:
    chunks = say(real, "The quick brown fox jumps over the lazy dog.")
    assert len(chunks) == 1 and chunks[0].rate == 22050 and chunks[0].width == 2
    audio = pcm(chunks)
    assert 1.0 < len(audio) / 22050 < 6.0
    assert np.sqrt(np.mean(audio**2)) > 0.02  # not silent
    assert np.mean(np.abs(audio) > 0.999) < 0.001  # hardly any clipping


@pytest.mark.slow
def test_real_voice_speed(real: PiperEngine) -> None:
    text = "Please turn off the lights in the kitchen and the living room."
    normal, fast, slow = (pcm(say(real, text, speed=s)).size for s in (1.0, 2.0, 0.5))
    assert fast < 0.8 * normal
    assert slow > 1.3 * normal


@pytest.mark.slow
def test_real_voice_sentences_and_stop(real: PiperEngine) -> None:
    text = "Hello there. How are you today? I am fine."
    assert len(say(real, text)) == 3
    produced: list[AudioChunk] = []
    for chunk in real.synthesize(SynthesisRequest(text=text, voice=REAL), lambda: len(produced) >= 2):
        produced.append(chunk)
    assert len(produced) == 2


@pytest.mark.slow
def test_unknown_voice(real: PiperEngine) -> None:
    with pytest.raises(EngineError, match=f"unknown piper voice 'nobody'.*{REAL}") as err:
        say(real, "hello", "nobody")
    assert err.value.param == "voice"
