"""Enrollment and quality checks through the real daemon's HTTP API; bad uploads get clear errors."""

from __future__ import annotations

import base64
import http.client
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import FAKE_ONLY, Daemon, start_daemon
from tests.quality.conftest import wav_bytes


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon (fake engine: enrollment needs no synthesis) for this module."""
    started = start_daemon(
        tmp_path_factory.mktemp("enroll-daemon"), env={**FAKE_ONLY, "VOXHUB_ENROLL__ANALYZE": "true"}
    )
    yield started
    started.stop()


@dataclass
class Reply:
    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def _send(method: str, url: str, body: bytes = b"", content_type: str = "") -> Reply:
    request = urllib.request.Request(url, data=body or None, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return Reply(response.status, response.read().decode())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode())


def _get(url: str) -> Reply:
    return _send("GET", url)


def _post_json(url: str, payload: dict[str, Any]) -> Reply:
    return _send("POST", url, json.dumps(payload).encode(), "application/json")


def _post_form(url: str, fields: dict[str, str], clip: bytes) -> Reply:
    boundary = "voxhub-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]  # fmt: skip
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.wav"\r\n'
                 "Content-Type: audio/wav\r\n\r\n".encode() + clip + b"\r\n")  # fmt: skip
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return _send("POST", url, body, f"multipart/form-data; boundary={boundary}")


def _voices(daemon: Daemon) -> list[str]:
    return [v["name"] for v in _get(f"{daemon.api}/voices").json()["data"]]


def test_enroll_show_and_remove_over_http(daemon: Daemon, piper_clip: np.ndarray) -> None:
    created = _post_form(f"{daemon.api}/voices", {"name": "joe", "consent": "true"}, wav_bytes(piper_clip))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["quality"]["verdict"] == "accept" and "kitchen table" in body["transcript"].lower()
    shown = _get(f"{daemon.api}/voices/joe").json()
    assert shown["quality"] == body["quality"] and shown["language"] == "en" and shown["kind"] == "cloned"
    assert _send("DELETE", f"{daemon.api}/voices/joe").json()["deleted"] is True
    assert "joe" not in _voices(daemon)


def test_quality_endpoint_reports_findings(daemon: Daemon, piper_clip: np.ndarray, degrade: dict) -> None:
    clipped = wav_bytes(degrade["clipped"](piper_clip))
    response = _post_json(f"{daemon.api}/quality", {"audio_b64": base64.b64encode(clipped).decode()})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verdict"] == "reject"
    clipping = next(f for f in report["findings"] if f["code"] == "clipping")
    assert clipping["value"] > 0.01 and "further from the microphone" in clipping["message"]


def _thirty_minutes_flac() -> bytes:
    out = io.BytesIO()
    sf.write(out, np.zeros(30 * 60 * 8000, np.int16), 8000, format="FLAC")
    return out.getvalue()


def test_bad_uploads_get_clear_errors_and_change_nothing(
    daemon: Daemon, piper_clip: np.ndarray, degrade: dict
) -> None:
    before = _voices(daemon)
    clean = wav_bytes(piper_clip)

    def post(payload: bytes, name: str = "bad") -> Reply:
        return _post_form(f"{daemon.api}/voices", {"name": name, "consent": "true"}, payload)

    not_audio = post(b"<html>definitely not audio</html>" * 50)
    assert not_audio.status_code == 400 and not_audio.json()["error"]["code"] == "bad_audio"
    truncated = post(clean[:40])  # the header and nothing else
    assert truncated.status_code == 400 and "truncated" in truncated.json()["error"]["message"]
    long = post(_thirty_minutes_flac())
    assert long.status_code == 400 and "1800.0 s long but at most 300 s" in long.json()["error"]["message"]
    silent = post(wav_bytes(degrade["silent"](piper_clip)))
    assert silent.status_code == 422
    assert silent.json()["error"]["quality"]["findings"][0]["code"] == "no_speech"
    bad_name = post(clean, name="../etc/passwd")
    assert bad_name.status_code == 400 and bad_name.json()["error"]["code"] == "invalid_voice_name"
    private = _post_json(
        f"{daemon.api}/voices", {"name": "bad", "url": "http://127.0.0.1:9/x.wav", "consent": True}
    )
    assert private.status_code == 400 and "loopback" in private.json()["error"]["message"]
    assert _voices(daemon) == before
    assert _get(f"{daemon.url}/health").status_code == 200  # still running


def test_a_two_gigabyte_claim_is_refused_before_the_body_is_read(daemon: Daemon) -> None:
    where = urlsplit(daemon.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    conn.putrequest("POST", "/v1/voices")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(2 << 30))
    conn.endheaders()
    conn.send(b"--x\r\n")  # a few bytes of the promised 2 GiB
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 413 and "2147483648 bytes" in body and "max_upload_mb" in body
