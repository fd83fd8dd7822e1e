"""The browser guard on the real daemon: cross-site POSTs and DNS rebinding are refused, real clients work."""

from __future__ import annotations

import http.client
import io
import json
import uuid
from urllib.parse import urlparse

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import FAKE_ONLY, Daemon
from tests.integration.test_http_openai import client, get_json


def raw(daemon: Daemon, method: str, path: str, body: bytes = b"",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """One request with exactly the headers given (Host included, when given)."""
    url = urlparse(daemon.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def tone_wav(seconds: float = 2.0, pitch: float = 220.0) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * pitch * t), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def multipart(fields: dict[str, str], clip: bytes) -> tuple[bytes, str]:
    """What an HTML form posts (the shape a no-cors fetch from any web page can send). Enrollments confirm the
    speaker's consent unless the fields say otherwise (tests/integration/test_consent.py covers refusals)."""
    if "name" in fields:
        fields = {"consent": "true", **fields}
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]  # fmt: skip
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
                 "Content-Type: audio/wav\r\n\r\n".encode() + clip + b"\r\n")  # fmt: skip
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def cloned(daemon: Daemon) -> set[str]:
    return {v["name"] for v in get_json(daemon, "/v1/voices")["data"] if v["kind"] == "cloned"}


@pytest.fixture
def daemon(daemon_factory: object) -> Daemon:
    return daemon_factory(env=FAKE_ONLY)  # type: ignore[operator,no-any-return]


def test_cross_origin_form_post_is_refused_and_stores_nothing(daemon: Daemon) -> None:
    body, ctype = multipart({"name": "intruder"}, tone_wav())
    port = urlparse(daemon.url).port
    status, _, payload = raw(daemon, "POST", "/v1/voices", body,
                             {"Content-Type": ctype, "Origin": "http://evil.example",
                              "Host": f"127.0.0.1:{port}"})  # fmt: skip
    assert status == 403, payload
    error = json.loads(payload)["error"]
    assert error["code"] == "origin_not_allowed" and "http.allowed_origins" in error["message"]
    assert cloned(daemon) == set()
    # The same form from the hub's own origin (a future web UI) is stored.
    status, _, payload = raw(daemon, "POST", "/v1/voices", body,
                             {"Content-Type": ctype, "Origin": daemon.url, "Host": f"127.0.0.1:{port}"})  # fmt: skip
    assert status == 201, payload
    assert cloned(daemon) == {"intruder"}


def test_dns_rebinding_cannot_list_or_delete_voices(daemon: Daemon) -> None:
    body, ctype = multipart({"name": "mum"}, tone_wav())
    assert raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})[0] == 201
    port = urlparse(daemon.url).port
    rebound = {"Host": f"evil.example:{port}"}
    status, _, payload = raw(daemon, "GET", "/v1/voices", headers=rebound)
    assert status == 403 and b"mum" not in payload
    error = json.loads(payload)["error"]
    assert error["code"] == "host_not_allowed" and "http.allowed_hosts" in error["message"]
    assert raw(daemon, "DELETE", "/v1/voices/mum", headers=rebound)[0] == 403
    assert raw(daemon, "POST", "/v1/audio/speech", b'{"input": "hi"}',
               {**rebound, "Content-Type": "application/json"})[0] == 403  # fmt: skip
    assert cloned(daemon) == {"mum"}
    # Probes by a container or service name still get /health.
    assert raw(daemon, "GET", "/health", headers=rebound)[0] == 200
    assert raw(daemon, "GET", "/v1/voices", headers={"Host": f"localhost:{port}"})[0] == 200
    assert raw(daemon, "DELETE", "/v1/voices/mum", headers={"Host": f"[::1]:{port}"})[0] == 200


def test_sdk_and_curl_like_clients_keep_working(daemon: Daemon) -> None:
    audio = client(daemon).audio.speech.create(model="tts-1", voice="fake-low", input="Hi.",
                                               response_format="wav").read()  # fmt: skip
    assert sf.info(io.BytesIO(audio)).frames > 0
    body, ctype = multipart({"name": "dad"}, tone_wav())
    assert raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})[0] == 201
    assert raw(daemon, "DELETE", "/v1/voices/dad")[0] == 200


def test_allowed_hosts_and_origins_settings(daemon_factory: object) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_HTTP__ALLOWED_HOSTS": "voxhub.example.com",  # type: ignore[operator]
                                 "VOXHUB_HTTP__ALLOWED_ORIGINS": "https://dash.example.com"})  # fmt: skip
    body, ctype = multipart({"name": "aunt"}, tone_wav())
    headers = {"Host": "voxhub.example.com", "Origin": "https://dash.example.com", "Content-Type": ctype}
    assert raw(daemon, "POST", "/v1/voices", body, headers)[0] == 201
    assert raw(daemon, "GET", "/v1/voices", headers={"Host": "other.example.com"})[0] == 403


def test_a_valid_key_passes_the_guard_but_a_junk_one_does_not(daemon_factory: object) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_HTTP__API_KEYS": "sekrit"})  # type: ignore[operator]
    port = urlparse(daemon.url).port
    # A LAN client reaching the hub by a name of its own (mDNS, a hosts entry), with its key.
    named = {"Host": f"homeassistant.local:{port}", "Authorization": "Bearer sekrit"}
    assert raw(daemon, "GET", "/v1/voices", headers=named)[0] == 200
    # A rebinding page can send any header, but it has no key.
    junk = {"Host": f"evil.example:{port}", "Authorization": "Bearer guess"}
    assert raw(daemon, "GET", "/v1/voices", headers=junk)[0] == 401
    assert "Warning" not in daemon.log() and "Traceback" not in daemon.log()
