"""Re-enrolling a voice with `replace` must not serve the old voice's cached audio."""

from __future__ import annotations

import json

from tests.conftest import FAKE_ONLY
from tests.integration.test_http_guard import multipart, raw, tone_wav
from tests.integration.test_http_openai import post


def test_replaced_voice_is_not_served_from_the_old_cache(daemon_factory: object) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    speak = json.dumps({"model": "tts-1", "input": "Dinner is ready.", "voice": "mum",
                        "response_format": "wav"}).encode()  # fmt: skip
    body, ctype = multipart({"name": "mum"}, tone_wav(pitch=200))
    assert raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})[0] == 201
    status, headers, old = post(daemon, "/v1/audio/speech", speak)
    assert status == 200 and headers["X-Voxhub-Cache"] == "miss"
    assert post(daemon, "/v1/audio/speech", speak)[1]["X-Voxhub-Cache"] == "hit"  # the cache is on

    body, ctype = multipart({"name": "mum", "replace": "true"}, tone_wav(pitch=330))
    assert raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})[0] == 201
    status, headers, new = post(daemon, "/v1/audio/speech", speak)
    assert status == 200 and headers["X-Voxhub-Cache"] == "miss"
    # The fake engine's pitch follows the reference clip: the new voice sounds different.
    assert new != old
