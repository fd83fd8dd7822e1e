"""Timing helpers the benchmarks share."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlparse


def http_speech(
    url: str, text: str, fmt: str = "wav", voice: str | None = None, timeout: float = 120
) -> tuple[float, float, int]:
    """(seconds to the first audio byte, seconds in all, audio bytes) of one POST /v1/audio/speech to the
    daemon at `url`."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    request = {"model": "tts-1", "input": text, "response_format": fmt}
    if voice is not None:
        request["voice"] = voice
    body = json.dumps(request)
    started = time.perf_counter()
    conn.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200, response.read()
    first, size = None, 0
    while block := response.read1(65536):
        if first is None:
            first = time.perf_counter() - started
        size += len(block)
    conn.close()
    assert first is not None, "the response had no audio"
    return first, time.perf_counter() - started, size
