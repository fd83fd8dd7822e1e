"""The engine contract, run against every engine (Piper, ZipVoice, Pocket TTS, the fake) through the real worker
code and the real protocol bytes: streaming, cancellation, errors with code and param, sample rate, the
language and reference reaching the engine, options declared as a schema the hub can enforce."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engines.worker as worker_module
from engines import load_engine_class
from engines.core.errors import InvalidOption
from engines.core.interface import Reference, Stop, SynthesisRequest, VoiceReference
from engines.core.options import parse_options
from engines.core.protocol import (
    Audio,
    Cancel,
    Done,
    Error,
    Message,
    Prepare,
    Prepared,
    Ready,
    Start,
    Synthesize,
    read_message,
)
from tests.engines.test_piper import tiny_config, write_voice
from tests.zipvoice_graphs import install_tiny_models

TEXT = "Hello there. How are you today? The weather is fine."
TRIO = "en_GB-trio-x_low"


@dataclass
class Case:
    """One engine, configured on tiny local models, and how to get a voice from it."""

    engine: str
    config: dict[str, Any]
    voice: str
    reference: VoiceReference | None = None
    """A clip to clone first (cloning engines without presets), else speak the preset `voice`."""
    seen: list[SynthesisRequest] = field(default_factory=list)
    min_chunks: int = 2


def _clip(seconds: float = 2.5, rate: int = 24000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    voiced = 0.3 * np.sin(2 * np.pi * 140 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.concatenate([np.zeros(rate // 2), voiced, np.zeros(rate // 2)]).astype("<f4")


@pytest.fixture(scope="module")
def zipvoice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_tiny_models(tmp_path_factory.mktemp("zipvoice-contract"))


@pytest.fixture(params=["piper", "zipvoice", "pocket", "fake"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Case:
    name = request.param
    if name == "piper":
        write_voice(tmp_path / "voices", TRIO, tiny_config())
        return Case("piper", {"voice_dirs": [str(tmp_path / "voices")]}, TRIO)
    if name == "zipvoice":
        model_dir = request.getfixturevalue("zipvoice_dir")
        reference = VoiceReference("anna", _clip().tobytes(), 24000, "Hello there, this is my voice.", "en")
        return Case("zipvoice", {"model_dir": str(model_dir), "steps": 2}, "anna", reference, min_chunks=1)
    if name == "pocket":
        model_dir = request.getfixturevalue("pocket_model_dir")
        reference = VoiceReference("anna", _clip().tobytes(), 24000, "", "en")
        return Case("pocket", {"model_dir": str(model_dir)}, "anna", reference)
    return Case("fake", {}, "fake-low")


def run_worker(case: Case, messages: list[Message], monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """The real worker loop on in-memory pipes; the engine records every request it gets."""
    engine_cls = load_engine_class(case.engine)
    seen = case.seen

    class Recording(engine_cls):  # type: ignore[misc,valid-type]
        def synthesize(self, request: SynthesisRequest, should_stop: Callable[[], bool]) -> Any:
            seen.append(request)
            return super().synthesize(request, should_stop)

    monkeypatch.setattr(worker_module, "load_engine_class", lambda name: Recording)
    events_in = io.BytesIO(b"".join(m.encode() for m in [Start(case.engine, case.config), *messages]))
    events_out = io.BytesIO()
    assert worker_module.Worker(events_in, events_out).run() == 0
    events_out.seek(0)
    replies = []
    while (message := read_message(events_out)) is not None:
        replies.append(message)
    return replies


def prompt_for(case: Case, monkeypatch: pytest.MonkeyPatch) -> bytes:
    if case.reference is None:
        return b""
    ref = case.reference
    reference = Reference(ref.name, ref.rate, ref.transcript, ref.language)
    replies = run_worker(case, [Prepare("p", reference, payload=ref.audio)], monkeypatch)
    prepared = [m for m in replies if isinstance(m, Prepared)]
    assert prepared and prepared[0].payload, replies
    return prepared[0].payload


def speak(case: Case, prompt: bytes, **fields: Any) -> Synthesize:
    reference = Reference(case.voice, 24000, "Hello there, this is my voice.", "en") if prompt else None
    return Synthesize(**{"id": "s", "text": TEXT, "voice": case.voice, "language": "en-gb", "reference": reference,
                         "payload": prompt, **fields})  # fmt: skip


def test_streams_audio_at_the_declared_rate_and_passes_the_language(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = prompt_for(case, monkeypatch)
    replies = run_worker(case, [speak(case, prompt)], monkeypatch)
    ready, *rest = replies
    assert isinstance(ready, Ready) and ready.protocol
    audio = [m for m in rest if isinstance(m, Audio)]
    assert audio and isinstance(rest[-1], Done) and not rest[-1].cancelled, rest[-1]
    declared = ready.info["sample_rate"]
    assert all((m.width, m.channels) == (2, 1) for m in audio)
    assert {m.rate for m in audio} == {declared or audio[0].rate}
    samples = np.concatenate([np.frombuffer(m.payload, "<i2") for m in audio])
    assert len(samples) > 0.2 * audio[0].rate and np.abs(samples).max() > 0
    # Streaming: Piper and the fake yield per sentence, Pocket per 80 ms frame; ZipVoice per chunk of up to
    # 25 s (the hub already sends it one sentence at a time).
    assert len(audio) >= case.min_chunks
    (request,) = case.seen
    assert request.language == "en-gb"
    assert (request.reference is not None) == bool(prompt)
    if request.reference is not None:
        assert request.reference.language == "en"


def test_a_cancelled_request_ends_early_and_says_so(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    prompt = prompt_for(case, monkeypatch)
    # The cancel is read before the request runs: no audio at all, and Done says cancelled.
    replies = run_worker(case, [Cancel("s"), speak(case, prompt)], monkeypatch)
    assert [type(m) for m in replies[1:]] == [Done] and replies[-1].cancelled  # type: ignore[attr-defined]
    # In the engine itself: stopping after the first chunk yields at most one more.
    engine = load_engine_class(case.engine)(case.config)
    stop = Stop()
    request = SynthesisRequest(" ".join([TEXT] * 12), case.voice, prompt=prompt or None)  # several chunks
    chunks = 0
    for _ in engine.synthesize(request, stop):
        chunks += 1
        stop.set()
    uncancelled = sum(1 for _ in itertools.islice(engine.synthesize(request, Stop()), chunks + 2))
    assert chunks <= 2 and uncancelled > chunks


def test_errors_cross_the_pipe_with_code_and_param_and_the_worker_goes_on(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = prompt_for(case, monkeypatch)
    bad = Synthesize("bad", TEXT, "no-such-voice")
    replies = run_worker(case, [bad, speak(case, prompt)], monkeypatch)
    error = next(m for m in replies if isinstance(m, Error))
    assert (
        error.id == "bad" and error.param == "voice" and error.code == "engine_error" and error.status == 422
    )
    assert not error.restart and "no-such-voice" in error.message
    assert any(isinstance(m, Done) and m.id == "s" for m in replies)  # the next request is served


def test_options_are_a_schema_the_hub_enforces(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    replies = run_worker(case, [], monkeypatch)
    ready = replies[0]
    assert isinstance(ready, Ready)
    options = ready.info["options"]
    assert options and all({"name", "type", "default", "help"} <= o.keys() and o["help"] for o in options)
    from engines.core.interface import EngineInfo

    info = EngineInfo.from_dict(ready.info)
    with pytest.raises(
        InvalidOption, match=rf"options\.nonsense: the {case.engine} engine has no such option"
    ):
        parse_options(info.options, {"nonsense": 1}, case.engine)
    numeric = next((o for o in info.options if o.type in ("int", "float") and o.max is not None), None)
    if numeric is not None:
        with pytest.raises(InvalidOption, match=rf"options\.{numeric.name} = .* is not valid"):
            parse_options(info.options, {numeric.name: numeric.max + 1}, case.engine)
