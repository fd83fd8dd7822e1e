"""Hub.enroll and Hub.check with the real models: one transaction, nothing stored on rejection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from hub.api import Consent, Hub
from hub.errors import BadAudio, VoiceExists
from hub.quality.clip import ClipRejected
from hub.settings import load_settings
from tests.conftest import FAKE_ONLY
from tests.quality.conftest import RATE, wav_bytes

CONSENT = Consent("test")


@pytest.fixture
async def hub(tmp_path: Path, toolkit: object) -> AsyncIterator[Hub]:
    settings = load_settings(
        env={**FAKE_ONLY, "VOXHUB_ENROLL__ANALYZE": "true", "VOXHUB_DATA_DIR": str(tmp_path)}
    )
    async with Hub.open(settings) as opened:
        opened.toolkit = toolkit  # type: ignore[assignment]  # the session's loaded models
        yield opened


async def test_rejected_enrollment_leaves_the_library_unchanged(
    hub: Hub, piper_clip: np.ndarray, degrade: dict
) -> None:
    await hub.enroll("joe", wav_bytes(piper_clip), consent=CONSENT)
    before = [(v.name, v.languages) for v in await hub.list_voices()]
    stored = await hub.voice_details("joe")
    with pytest.raises(ClipRejected) as caught:
        await hub.enroll("joe", wav_bytes(degrade["clipped"](piper_clip)), replace=True, consent=CONSENT)
    error = caught.value
    assert error.status == 422 and "nothing was stored" in error.message and "clipped" in error.message
    assert error.extra["quality"]["verdict"] == "reject"
    with pytest.raises(ClipRejected):
        await hub.enroll("newcomer", wav_bytes(degrade["silent"](piper_clip)), consent=CONSENT)
    with pytest.raises(BadAudio):
        await hub.enroll("newcomer", b"this is not audio at all", consent=CONSENT)
    assert [(v.name, v.languages) for v in await hub.list_voices()] == before
    assert await hub.voice_details("joe") == stored  # the accepted voice is untouched


async def test_enrollment_stores_prompt_transcript_embedding_and_report(
    hub: Hub, piper_clip: np.ndarray, espeak_clips: dict[str, np.ndarray]
) -> None:
    voice = await hub.enroll("joe", wav_bytes(piper_clip), consent=CONSENT)
    assert voice.kind == "cloned" and voice.languages == ("en",)
    details = await hub.voice_details("joe")
    assert details["quality"]["verdict"] == "accept" and "dinner is ready" in details["transcript"].lower()
    assert details["has_embedding"] and 3 <= details["reference_seconds"] <= 12
    with pytest.raises(VoiceExists):
        await hub.enroll("joe", wav_bytes(piper_clip), consent=CONSENT)
    # The same speaker again under another name: accepted, with a near-duplicate warning.
    await hub.enroll("joe-again", wav_bytes(piper_clip[len(piper_clip) // 4 :]), consent=CONSENT)
    again = await hub.voice_details("joe-again")
    codes = [f["code"] for f in again["quality"]["findings"]]
    assert "near_duplicate" in codes and again["quality"]["details"]["near_duplicates"][0]["voice"] == "joe"
    # Post-synthesis check: the same speaker matches, another does not.
    same = await hub.check(wav_bytes(piper_clip[: 6 * RATE]), against="joe")
    other = await hub.check(wav_bytes(espeak_clips["en-us+f2"]), against="joe")
    assert same.metrics["similarity"] > 0.85 > other.metrics["similarity"]  # type: ignore[operator]
    assert other.finding("speaker_mismatch") is not None and same.finding("speaker_mismatch") is None
    assert other.to_dict()["details"]["against"] == "joe"
