"""The Engine contract: what every TTS engine implements, and the value types that cross the worker pipe."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from engines.core.options import Option


@dataclass(frozen=True)
class AudioChunk:
    """A piece of mono or interleaved PCM audio."""

    rate: int
    """Sample rate in Hz."""
    width: int
    """Bytes per sample (2 = s16le)."""
    channels: int
    """Number of interleaved channels."""
    audio: bytes
    """Raw little-endian PCM."""

    @property
    def samples(self) -> int:
        return len(self.audio) // (self.width * self.channels)

    @property
    def seconds(self) -> float:
        return self.samples / self.rate


@dataclass(frozen=True)
class VoiceInfo:
    """A voice as the hub lists it: a preset of one engine or a cloned voice from the library."""

    name: str
    """Unique voice name (what clients pass as `voice`)."""
    engine: str
    """The engine that speaks it by default."""
    languages: tuple[str, ...] = ()
    """BCP-47-ish language codes, e.g. `en-us`."""
    description: str = ""
    """Human label."""
    kind: str = "preset"
    """`preset` (shipped with an engine) or `cloned` (enrolled from a reference clip)."""
    speakers: tuple[str, ...] = ()
    """Named speakers of a multi-speaker preset voice."""
    sample_rate: int = 0
    """Native output rate, 0 when unknown."""
    attribution: str = ""
    """Who made the voice / its licence."""

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: asdict deep-copies every field, a third of a 1000-voice listing's time.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["languages"] = list(self.languages)
        data["speakers"] = list(self.speakers)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VoiceInfo:
        fields = dict(data)
        fields["languages"] = tuple(fields.get("languages", ()))
        fields["speakers"] = tuple(fields.get("speakers", ()))
        return cls(**fields)


@dataclass(frozen=True)
class EngineInfo:
    """What an engine tells the hub about itself once its worker has started."""

    name: str
    """Registry name, e.g. `piper`."""
    version: str
    """Engine version; prompt caches are keyed by it."""
    cloning: bool
    """Whether the engine speaks cloned voices (needs `prepare_voice`)."""
    voices: tuple[VoiceInfo, ...] = ()
    """Preset voices."""
    description: str = ""
    """Human label."""
    options: tuple[Option, ...] = ()
    """The request options the engine takes (its class's OPTIONS); the hub validates requests against them."""
    sample_rate: int = 0
    """Native output rate, 0 when it depends on the voice."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "cloning": self.cloning,
            "voices": [v.to_dict() for v in self.voices],
            "description": self.description,
            "options": [o.to_dict() for o in self.options],
            "sample_rate": self.sample_rate,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineInfo:
        return cls(
            name=data["name"],
            version=data["version"],
            cloning=bool(data["cloning"]),
            voices=tuple(VoiceInfo.from_dict(v) for v in data.get("voices", ())),
            description=data.get("description", ""),
            options=tuple(Option.from_dict(o) for o in data.get("options", ())),
            sample_rate=int(data.get("sample_rate", 0)),
        )


@dataclass(frozen=True)
class VoiceReference:
    """An enrolled voice handed to a cloning engine: the clip and what is known about it."""

    name: str
    audio: bytes
    """Mono float32 little-endian samples of the reference clip."""
    rate: int
    transcript: str = ""
    language: str = ""


@dataclass(frozen=True)
class Reference:
    """What the library knows about a cloned voice's reference clip, sent along with every request."""

    name: str
    rate: int = 0
    transcript: str = ""
    language: str = ""


@dataclass(frozen=True)
class SynthesisRequest:
    """One unit of work for an engine: usually one sentence."""

    text: str
    """Normalized text (the hub has already expanded numbers etc.)."""
    voice: str
    """Preset voice name, or the cloned voice's name when `prompt` is set."""
    speed: float = 1.0
    """1.0 = natural; 2.0 = twice as fast."""
    speaker: str | None = None
    """Speaker of a multi-speaker preset voice."""
    prompt: bytes | None = None
    """The engine's own prepared prompt for a cloned voice (from `prepare_voice`)."""
    language: str = ""
    """The language to speak (BCP-47-ish, e.g. `en`); empty = the voice's or the engine's own."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Engine-specific options, already checked against the engine's OPTIONS by the hub."""
    reference: Reference | None = None
    """For a cloned voice: its reference clip's transcript and language."""


StopCheck = Callable[[], bool]


class Stop(threading.Event):
    """A job's cancellation flag: call it (a StopCheck) or hand it to libraries that take an Event."""

    def __call__(self) -> bool:
        return self.is_set()


class Engine(abc.ABC):
    """A TTS engine, hosted in a worker process. One request at a time; the worker serializes calls."""

    OPTIONS: ClassVar[tuple[Option, ...]] = ()
    """Request options, declared once: the hub validates `options` against them and lists them."""
    REQUIREMENTS: ClassVar[tuple[str, ...]] = ()
    """Pinned pip requirements of the engine's own environment (`voxhub engines install NAME`)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    @abc.abstractmethod
    def info(self) -> EngineInfo:
        """Describe the engine and its preset voices. Must be cheap: load models lazily."""

    def prepare_voice(self, reference: VoiceReference) -> bytes:
        """Derive this engine's prompt from a reference clip (cloning engines only)."""
        raise NotImplementedError(f"engine {self.info().name!r} does not clone voices")

    @abc.abstractmethod
    def synthesize(self, request: SynthesisRequest, should_stop: StopCheck) -> Iterator[AudioChunk]:
        """Yield audio for `request`; stop early (between chunks) when `should_stop()` is true (a Stop in a worker)."""

    def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Load models now: the worker calls this once after reporting ready, before taking requests."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free models and sessions."""
