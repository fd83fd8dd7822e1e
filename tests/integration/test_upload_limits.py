"""Multipart uploads are bounded field by field: a huge text field is refused before it is read."""

from __future__ import annotations

import json
import select
import socket
import time
from urllib.parse import urlparse

from tests.conftest import FAKE_ONLY, Daemon
from tests.integration.test_http_openai import get_json

MiB = 1 << 20


def _send_until_answered(daemon: Daemon, field: str, size: int) -> tuple[int, bytes, float]:
    """POST a chunked multipart body whose `field` is `size` bytes; stop sending once the server answers.

    Returns the body bytes sent before the answer (an upper bound of what the server read), the
    answer, and the seconds it took."""
    url = urlparse(daemon.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    boundary = "b0undary"
    sock.sendall(
        f"POST /v1/voices HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )

    def chunk(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data)

    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n'.encode()
    sock.sendall(chunk(head))
    sent, block, started = 0, b"a" * (256 << 10), time.monotonic()
    answered = False
    while sent < size:
        try:
            sock.sendall(chunk(block))
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(block)
        if select.select([sock], [], [], 0)[0]:
            answered = True
            break
    elapsed = time.monotonic() - started
    assert answered, f"the server read all {sent} bytes without answering"
    reply = b""
    while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
        data = sock.recv(65536)
        if not data:
            break
        reply += data
    sock.close()
    return sent, reply, elapsed


def test_a_huge_text_field_is_refused_before_it_is_read(daemon_factory: object) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    sent, reply, elapsed = _send_until_answered(daemon, "transcript", 300 * MiB)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    error = json.loads(body[body.index(b"{") : body.rindex(b"}") + 1])["error"]
    assert error["code"] == "upload_too_large" and error["param"] == "transcript"
    assert "65536" in error["message"]
    # 64 KiB are enough to decide; the rest of what was sent sat in loopback socket buffers.
    assert sent < 24 * MiB, f"{sent / MiB:.0f} MiB sent before the answer"
    assert elapsed < 5.0
    assert get_json(daemon, "/health")["status"] == "ok"


def test_an_unnamed_part_is_bounded_too(daemon_factory: object) -> None:
    daemon = daemon_factory(env=FAKE_ONLY)  # type: ignore[operator]
    sent, reply, _ = _send_until_answered(daemon, "", 300 * MiB)
    assert reply.startswith(b"HTTP/1.1 413") and sent < 24 * MiB
    assert get_json(daemon, "/health")["status"] == "ok"
