"""Wyoming `describe`: the `info` event, one TTS program listing every voice of every engine."""

from __future__ import annotations

from typing import Any

from wyoming.event import Event
from wyoming.info import Attribution, Info, TtsProgram

from hub.api import VERSION, Hub, VoiceInfo

VOXHUB_URL = "https://github.com/voxhub/voxhub"


async def info_event(hub: Hub, program_name: str) -> Event:
    """`info`: one TTS program with every voice of every engine (Home Assistant uses only the first)."""
    voices = await hub.list_voices()
    presets = sorted({lang for v in voices if v.kind == "preset" for lang in v.languages})
    program = TtsProgram(
        name=program_name,
        attribution=Attribution(name="voxhub", url=VOXHUB_URL),
        installed=True,
        description="voxhub: preset and cloned voices from every engine",
        version=VERSION,
        voices=[],
        supports_synthesize_streaming=True,
    )
    event = Info(tts=[program]).event()
    # The voices are added as plain dicts: wyoming's to_dict deep-copies every field, which was most
    # of a describe at 1000 voices. `voice_dict` gives exactly TtsVoice(...).to_dict() (a test checks).
    event.data["tts"][0]["voices"] = [voice_dict(voice, presets) for voice in voices]
    return event


def _base(language: str) -> str:
    return language.replace("-", "_").split("_")[0].lower()


def voice_dict(voice: VoiceInfo, presets: list[str]) -> dict[str, Any]:
    """One voice of the `info` event, as TtsVoice(...).to_dict() renders it, without its deep copies."""
    return {
        "name": voice.name,
        "attribution": {"name": voice.attribution or voice.engine, "url": ""},
        "installed": True,
        "description": voice.description or f"{voice.name} ({voice.kind}, {voice.engine})",
        "version": None,
        "languages": _languages(voice.languages, presets),
        "speakers": [{"name": s} for s in voice.speakers] or None,
    }


def _languages(own: tuple[str, ...], presets: list[str]) -> list[str]:
    """A voice's languages as Home Assistant needs them: it lists voices under exact language codes."""
    if not own:  # a cloned voice of unknown language: offer it wherever the presets are
        return presets or ["en_US"]
    # "en" from a clip's transcription also goes under the presets' "en_US", so it sits beside them
    extra = [p for p in presets if p not in own and any(_base(p) == _base(o) for o in own)]
    return [*own, *extra]
