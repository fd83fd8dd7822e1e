"""API keys with scopes on the real daemon: every route checked, CLI-made keys live, revocation, rate limit."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import soundfile as sf

from adapters.http import create_app
from adapters.http.auth import required_scope
from hub.settings import load_settings
from tests.conftest import FAKE_ONLY, REPO, Daemon
from tests.integration.test_http_guard import multipart, raw, tone_wav
from tests.integration.test_http_openai import client

# "/ui", "/ui/": the web UI's page and files (no data; the API calls they make need a key as any other).
OPEN = {"/health", "/docs", "/openapi.json", "/", "/v1/audio/clips/{clip_id}", "/ui", "/ui/"}


def voxhub(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env["VOXHUB_DATA_DIR"] = str(daemon.data_dir)
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def create_key(daemon: Daemon, name: str, scope: str) -> str:
    result = voxhub(daemon, "keys", "create", name, "--scope", scope)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def routes() -> list[tuple[str, str]]:
    """Every (method, path template) the daemon's app serves, read from its router."""
    settings = load_settings(env={})
    hub = types.SimpleNamespace(settings=settings, http_routes=[], keys=None)
    app = create_app(hub, settings.http)  # type: ignore[arg-type]
    found = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    assert {("POST", "/v1/voices"), ("DELETE", "/v1/voices/{name}"), ("POST", "/v1/audio/speech")} <= found
    assert {
        ("POST", "/v1/jobs"),
        ("DELETE", "/v1/jobs/{job_id}"),
        ("GET", "/v1/jobs/{job_id}/audio"),
    } <= found
    return sorted(found)


def call(daemon: Daemon, method: str, template: str, key: str | None) -> int:
    path = template.replace("{name}", "nobody").replace("{clip_id}", "nope").replace("{job_id}", "job_nope")
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    body = b"{}" if method in ("POST", "PUT", "PATCH") else b""
    return raw(daemon, method, path, body, headers)[0]


@pytest.fixture
def daemon(daemon_factory: object) -> Daemon:
    return daemon_factory(env=FAKE_ONLY)  # type: ignore[operator,no-any-return]


def test_every_route_needs_a_key_of_the_right_scope(daemon: Daemon) -> None:
    assert call(daemon, "GET", "/v1/voices", None) == 200  # loopback and no key anywhere: open
    speak, admin = create_key(daemon, "kitchen", "speak"), create_key(daemon, "me", "admin")
    assert speak.startswith("vxh_") and speak != admin
    problems = []
    for method, template in routes():
        expected_open = template in OPEN
        for key, label in ((None, "no key"), (speak, "speak"), (admin, "admin")):
            status = call(daemon, method, template, key)
            if key is None:
                ok = status != 401 if expected_open else status == 401
            elif label == "speak" and required_scope(method, template) == "admin" and not expected_open:
                ok = status == 403
            else:
                ok = status not in (401, 403)
            if not ok:
                problems.append(f"{method} {template} with {label}: {status}")
    assert problems == []


def test_enrolling_and_removing_voices_needs_an_admin_key(daemon: Daemon) -> None:
    speak, admin = create_key(daemon, "kitchen", "speak"), create_key(daemon, "me", "admin")
    body, ctype = multipart({"name": "mum"}, tone_wav())
    for key, status in ((None, 401), (speak, 403), (admin, 201)):
        headers = {"Content-Type": ctype, **({"Authorization": f"Bearer {key}"} if key else {})}
        assert raw(daemon, "POST", "/v1/voices", body, headers)[0] == status
    for key, status in ((None, 401), (speak, 403), (admin, 200)):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        got, _, payload = raw(daemon, "DELETE", "/v1/voices/mum", headers=headers)
        assert got == status, payload
        if status == 403:
            assert b"--scope admin" in payload and b"insufficient_scope" in payload
    # The openai SDK with a speak key speaks.
    audio = client(daemon, key=speak).audio.speech.create(model="tts-1", voice="fake-low", input="Hi.",
                                                          response_format="wav").read()  # fmt: skip
    assert sf.info(__import__("io").BytesIO(audio)).frames > 0


def test_keys_are_listed_without_secrets_and_revoked_in_the_running_daemon(daemon: Daemon) -> None:
    speak, admin = create_key(daemon, "kitchen", "speak"), create_key(daemon, "me", "admin")
    assert call(daemon, "GET", "/v1/voices", speak) == 200
    listed = voxhub(daemon, "keys", "list")
    assert "kitchen" in listed.stdout and "speak" in listed.stdout and speak not in listed.stdout
    assert admin not in (daemon.data_dir / "voxhub.db").read_bytes().decode("latin-1")
    assert voxhub(daemon, "keys", "create", "kitchen").returncode != 0  # names are unique
    assert voxhub(daemon, "keys", "revoke", "kitchen").returncode == 0
    assert call(daemon, "GET", "/v1/voices", speak) == 401
    assert call(daemon, "GET", "/v1/voices", admin) == 200
    assert voxhub(daemon, "keys", "revoke", "kitchen").returncode == 2


def test_config_keys_are_admin_keys(daemon_factory: object) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_HTTP__API_KEYS": "sekrit"})  # type: ignore[operator]
    body, ctype = multipart({"name": "dad"}, tone_wav())
    assert raw(daemon, "POST", "/v1/voices", body, {"Content-Type": ctype})[0] == 401
    headers = {"Content-Type": ctype, "Authorization": "Bearer sekrit"}
    assert raw(daemon, "POST", "/v1/voices", body, headers)[0] == 201


def test_guessing_keys_is_rate_limited(daemon_factory: object) -> None:
    daemon = daemon_factory(env={**FAKE_ONLY, "VOXHUB_HTTP__API_KEYS": "sekrit"})  # type: ignore[operator]
    assert call(daemon, "GET", "/v1/voices", "sekrit") == 200
    for attempt in range(10):
        assert call(daemon, "GET", "/v1/voices", f"guess-{attempt}") == 401
    status, headers, payload = raw(daemon, "GET", "/v1/voices", headers={"Authorization": "Bearer guess-x"})
    assert status == 429 and 50 <= int(headers["Retry-After"]) <= 60, payload
    assert b"http.auth_failures_per_minute" in payload
    assert call(daemon, "GET", "/v1/voices", "sekrit") == 429  # locked out for the minute, right key or not
    assert raw(daemon, "GET", "/health")[0] == 200


def test_readme_documents_the_keys_commands() -> None:
    readme = (Path(REPO) / "README.md").read_text()
    assert "voxhub keys create NAME [--scope speak|admin]" in readme and "voxhub keys revoke NAME" in readme
