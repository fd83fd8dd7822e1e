"""Language-aware text normalization (issue 16, part 3): numbers, money, units, dates and times through
num2words in the voice's language, and the voice's language reaching normalization in the hub."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.api import Consent, Hub, SpeechRequest
from hub.settings import load_settings
from hub.text import normalize, prepare
from tests.conftest import FAKE_ONLY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It is 3.5 °C.", "It is three point five degrees Celsius."),
        ("101 dogs, 1,234 cats", "one hundred one dogs, one thousand two hundred thirty-four cats"),
        ("the 21st of May 1999", "the twenty-first of May nineteen ninety-nine"),
        ("It costs $3.50 or 5 €.", "It costs three dollars and fifty cents or five euros."),
        ("Meet at 14:00 on 2024-03-01.", "Meet at two p m on March first, twenty twenty-four."),
        ("25% of 2 km", "twenty-five percent of two kilometers"),
    ],
)
def test_english(text: str, expected: str) -> None:
    assert normalize(text, "en") == expected
    assert normalize(text, "en_US") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Es sind 3,5 °C.", "Es sind drei Komma fünf Grad Celsius."),
        ("Es sind 3.5 °C.", "Es sind drei Komma fünf Grad Celsius."),  # a point, read the German way
        (
            "Das kostet 3,50 € oder 1.299,99 EUR.",
            "Das kostet drei Euro und fünfzig Cent oder "
            "eintausendzweihundertneunundneunzig Euro und neunundneunzig Cent.",
        ),
        (
            "Am 24.12.2024 um 14:30 Uhr.",
            "Am vierundzwanzigsten Dezember zweitausendvierundzwanzig um vierzehn Uhr dreißig.",
        ),
        (
            "Im Jahr 1999 kamen 1.000 Leute, 25 %.",
            "Im Jahr neunzehnhundertneunundneunzig kamen eintausend Leute, fünfundzwanzig Prozent.",
        ),
        (
            "1 kg, 1 h, -5 °C, 120 km/h",
            "ein Kilogramm, eine Stunde, minus fünf Grad Celsius, einhundertzwanzig Kilometer pro Stunde",
        ),
    ],
)
def test_german(text: str, expected: str) -> None:
    assert normalize(text, "de") == expected
    assert normalize(text, "de-AT") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Il fait 3,5 °C.", "Il fait trois virgule cinq degrés Celsius."),
        (
            "Ça coûte 3,50 € pour 1 000 personnes.",
            "Ça coûte trois euros et cinquante centimes pour mille personnes.",
        ),
        ("Le 1er mai, le 2e jour.", "Le premier mai, le deuxième jour."),
        (
            "Le 14/07/1789 à 14h30.",
            "Le quatorze juillet mille sept cent quatre-vingt-neuf à quatorze heures trente.",
        ),
        (
            "1 h, 1,5 km, 25 %",
            "une heure, un virgule cinq kilomètre, vingt-cinq pour cent",
        ),  # singular below 2
    ],
)
def test_french(text: str, expected: str) -> None:
    assert normalize(text, "fr") == expected
    assert normalize(text, "fr_FR") == expected


def test_prepare_keeps_its_signature_and_splits_after_normalizing() -> None:
    assert prepare("Es sind 3,5 °C. Gut.", max_chars=100, language="de") == [
        "Es sind drei Komma fünf Grad Celsius.",
        "Gut.",
    ]


# --- through the hub: the voice's language reaches normalization ------------------------------------------


def _tone_wav(seconds: float = 2.0, rate: int = 16000) -> bytes:
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate)))
                      for i in range(int(seconds * rate)))  # fmt: skip
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    async with Hub.open(load_settings(env={**FAKE_ONLY, "VOXHUB_DATA_DIR": str(tmp_path)})) as opened:
        yield opened


async def _engine_texts(hub: Hub, voice: str, text: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sentences the engine is sent for `text` spoken by `voice`."""
    pool = hub.pools["fake"]
    sent: list[str] = []
    submit = pool.submit

    async def spy(*jobs: Any) -> Any:
        sent.extend(job.data["text"] for job in jobs if job.kind == "synthesize")  # not prompts
        return await submit(*jobs)

    monkeypatch.setattr(pool, "submit", spy)
    stream = await hub.synthesize(SpeechRequest(text, voice=voice))
    audio = await stream.collect()
    assert audio.audio  # the engine spoke it
    monkeypatch.setattr(pool, "submit", submit)
    return sent


async def test_a_cloned_voices_language_decides_how_numbers_are_read(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    await hub.enroll("oma", _tone_wav(), language="de", consent=Consent("test"))
    await hub.enroll("mamie", _tone_wav(), language="fr", consent=Consent("test"))
    await hub.enroll("nobody", _tone_wav(), consent=Consent("test"))  # no language: English, as before
    text = "Es sind 3,5 °C."
    assert await _engine_texts(hub, "oma", text, monkeypatch) == ["Es sind drei Komma fünf Grad Celsius."]
    assert await _engine_texts(hub, "mamie", "Il fait 3,5 °C.", monkeypatch) == [
        "Il fait trois virgule cinq degrés Celsius."
    ]
    # an English preset (fake-low speaks en_US) and a voice without a language read "3,5" the English way
    assert await _engine_texts(hub, "fake-low", "It is 3.5 °C.", monkeypatch) == [
        "It is three point five degrees Celsius."
    ]
    assert await _engine_texts(hub, "nobody", "It is 3.5 °C.", monkeypatch) == [
        "It is three point five degrees Celsius."
    ]
