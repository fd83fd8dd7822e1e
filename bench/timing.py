"""Timing helpers the benchmarks share."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlparse


def http_speech(url: str, text: str, fmt: str = "wav") -> tuple[float, float]:
    """(seconds to the first audio byte, seconds in all) of one POST /v1/audio/speech to the daemon at `url`."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    body = json.dumps({"model": "tts-1", "input": text, "response_format": fmt})
    started = time.perf_counter()
    conn.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200, response.read()
    first = None
    while response.read1(65536):
        if first is None:
            first = time.perf_counter() - started
    conn.close()
    assert first is not None, "the response had no audio"
    return first, time.perf_counter() - started
