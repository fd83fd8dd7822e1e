"""A worker killed mid-stream: the raw HTTP response stays one well-formed response."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from urllib.parse import urlparse

import pytest

from tests.conftest import FAKE_ONLY, Daemon
from tests.integration.test_workers import fake_worker, speech, wait_for

TEXT = " ".join(f"Sentence number {i} takes a while." for i in range(8))


def _dechunk(body: bytes) -> tuple[bytes, bytes]:
    """The payload of a chunked body and whatever follows its terminator; AssertionError if malformed."""
    payload = b""
    while True:
        line, sep, body = body.partition(b"\r\n")
        assert sep, f"chunk size line not terminated: {line[:80]!r}"
        size = int(line.split(b";")[0], 16)
        if size == 0:
            assert body.startswith(b"\r\n"), f"no final CRLF after the last chunk: {body[:80]!r}"
            return payload, body[2:]
        payload += body[:size]
        assert body[size : size + 2] == b"\r\n", "chunk data not followed by CRLF"
        body = body[size + 2 :]


def _kill_mid_stream(daemon: Daemon, stream_format: str) -> bytes:
    """Start a long stream, kill -9 the worker once audio flows, return every byte the server sent."""
    url = urlparse(daemon.url)
    body = json.dumps({"model": "tts-1", "input": TEXT, "voice": "fake-low", "response_format": "pcm",
                       "stream_format": stream_format}).encode()  # fmt: skip
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    sock.sendall(
        b"POST /v1/audio/speech HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (url.hostname.encode(), url.port, len(body), body)
    )
    received = sock.recv(65536)
    while b"\r\n\r\n" not in received:  # the status line and headers, then at least some audio
        received += sock.recv(65536)
    wait_for(lambda: fake_worker(daemon)["state"] == "busy", what="the worker to be busy")
    os.kill(fake_worker(daemon)["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while chunk := sock.recv(65536):
        received += chunk
        assert time.monotonic() < deadline, "the response never ended"
    sock.close()
    return received


@pytest.mark.parametrize("stream_format", ["audio", "sse"])
def test_worker_killed_mid_stream_ends_the_chunked_response_cleanly(
    daemon_factory: object, stream_format: str
) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_ENGINES__FAKE__DELAY_S": "1.0"})  # type: ignore[operator]
    received = _kill_mid_stream(daemon, stream_format)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert received.count(b"HTTP/1.1 ") == 1, "a second status line was written inside the body"
    assert b"transfer-encoding: chunked" in head.lower()
    payload, trailing = _dechunk(body)
    assert received.endswith(b"0\r\n\r\n") and trailing == b""
    if stream_format == "audio":
        full = len(TEXT) * 0.02 * 16000 * 2  # the fake engine's 16 kHz tone, 20 ms per character
        assert 0 < len(payload) < full / 2, "the audio should be cut short, not complete"
    else:
        events = [json.loads(line[6:]) for line in payload.decode().splitlines() if line.startswith("data: ")]
        assert events[0]["type"] == "speech.audio.delta"
        assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "engine_unavailable"
        assert "retry" in events[-1]["error"]["message"]
    status, _, _ = speech(daemon, "The restarted worker answers.")
    assert status == 200
