"""Long-form jobs on the real daemon (fake engine): resume after kill -9, cancel, retries, signed webhooks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import av
from aiohttp import web

from tests.conftest import FAKE_ONLY, REPO, Daemon, start_daemon

SENTENCES = [f"This is sentence number {n}, spoken by the fake engine for the jobs test." for n in range(14)]


def request(daemon: Daemon, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(daemon.url + path, data, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            raw = response.read()
            kind = response.headers.get("Content-Type", "")
            return response.status, json.loads(raw) if "json" in kind else raw
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_for(daemon: Daemon, job_id: str, done: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = request(daemon, "GET", f"/v1/jobs/{job_id}")
        assert status == 200, job
        if done(job):
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got there: {job}\n{daemon.log()[-3000:]}")


def chunk_rows(data_dir: Path, job_id: str) -> dict[int, tuple[str, int, float | None]]:
    with sqlite3.connect(data_dir / "voxhub.db") as conn:
        rows = conn.execute(
            "SELECT idx, state, attempts, finished_at FROM job_chunks WHERE job = ?", [job_id]
        )
        return {idx: (state, attempts, finished) for idx, state, attempts, finished in rows}


def slow_fake(delay: float = 0.25, **extra: str) -> dict[str, str]:
    return {
        **FAKE_ONLY,
        "VOXHUB_ENGINES__FAKE__DELAY_S": str(delay),
        "VOXHUB_JOBS__MAX_CHUNK_CHARS": "80",
        **extra,
    }


def test_a_job_killed_mid_way_resumes_with_no_chunk_twice_and_none_missing(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", env=slow_fake())
    try:
        status, job = request(daemon, "POST", "/v1/jobs", {"input": " ".join(SENTENCES), "voice": "fake-low",
                                                           "format": "wav"})  # fmt: skip
        assert status == 202 and job["chunks_total"] == len(SENTENCES), job
        wait_for(daemon, job["id"], lambda j: j["chunks_done"] >= 4)
    finally:
        daemon.kill()  # SIGKILL: no clean shutdown
    before = chunk_rows(tmp_path / "data", job["id"])
    finished_before = {i: row for i, row in before.items() if row[0] == "done"}
    assert 4 <= len(finished_before) < len(SENTENCES)

    again = start_daemon(tmp_path / "data", env=slow_fake())
    try:
        final = wait_for(again, job["id"], lambda j: j["state"] != "running" and j["state"] != "queued")
        assert final["state"] == "done" and final["chunks_done"] == len(SENTENCES), final
        after = chunk_rows(tmp_path / "data", job["id"])
        assert all(state == "done" for state, _, _ in after.values())
        for idx, row in finished_before.items():
            assert after[idx] == row  # untouched: not synthesized again
        redone = {int(n) for n in re.findall(rf"job {job['id']} chunk (\d+) done", again.log())}
        assert redone == set(after) - set(finished_before)  # every missing chunk, once
        status, wav = request(again, "GET", f"/v1/jobs/{job['id']}/audio")
        assert status == 200 and wav[:4] == b"RIFF"
        seconds = (len(wav) - 44) / 2 / 16000
        pauses = (len(SENTENCES) - 1) * 0.25
        assert abs(seconds - (final["audio_seconds"] + pauses)) < 0.05
    finally:
        again.stop()


def test_cancel_stops_a_job_and_its_audio_is_refused(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", env=slow_fake())
    try:
        _, job = request(daemon, "POST", "/v1/jobs", {"input": " ".join(SENTENCES), "voice": "fake-low"})
        wait_for(daemon, job["id"], lambda j: j["chunks_done"] >= 1)
        status, cancelled = request(daemon, "DELETE", f"/v1/jobs/{job['id']}")
        assert status == 200 and cancelled["state"] == "cancelled", cancelled
        done_then = cancelled["chunks_done"]
        time.sleep(1.0)
        _, later = request(daemon, "GET", f"/v1/jobs/{job['id']}")
        assert later["state"] == "cancelled" and later["chunks_done"] == done_then < len(SENTENCES)
        status, error = request(daemon, "GET", f"/v1/jobs/{job['id']}/audio")
        assert status == 409 and error["error"]["code"] == "job_not_done"
        status, listing = request(daemon, "GET", "/v1/jobs")
        assert [j["id"] for j in listing["data"]] == [job["id"]]
        assert request(daemon, "GET", "/v1/jobs/job_nope")[0] == 404
    finally:
        daemon.stop()


def test_a_chunk_failing_every_try_fails_the_job_naming_it(tmp_path: Path) -> None:
    daemon = start_daemon(
        tmp_path / "data", env=slow_fake(0.0, VOXHUB_JOBS__RETRIES="1", VOXHUB_JOBS__MAX_CHUNK_CHARS="40")
    )
    try:
        text = "First a fine sentence to speak. Then this one will CRASH the worker. And a last one."
        _, job = request(daemon, "POST", "/v1/jobs", {"input": text, "voice": "fake-low"})
        final = wait_for(daemon, job["id"], lambda j: j["state"] in ("done", "failed"))
        assert final["state"] == "failed"
        assert (
            "chunk 1" in final["error"] and "failed 2 times" in final["error"] and "crashed" in final["error"]
        )
        assert chunk_rows(tmp_path / "data", job["id"])[1][:2] == ("pending", 2)
        status, health = request(daemon, "GET", "/health")  # the daemon is still serving
        assert status == 200 and health["serving"]
    finally:
        daemon.stop()


def test_bad_jobs_are_refused_naming_the_problem(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", env=FAKE_ONLY)
    try:
        cases = [({"voice": "fake-low"}, "input"), ({"input": "Hi.", "voice": "nobody"}, "voice"),
                 ({"input": "Hi.", "format": "ogg"}, "format"), ({"input": "x", "input_format": "epub"}, "input"),
                 ({"input": "Hi.", "webhook": "http://127.0.0.1:9/hook"}, "webhook")]  # fmt: skip
        for body, param in cases:
            status, error = request(daemon, "POST", "/v1/jobs", body)
            assert status in (400, 404) and error["error"]["param"] == param, (body, error)
        assert request(daemon, "GET", "/v1/jobs")[1]["data"] == []  # nothing stored
    finally:
        daemon.stop()


def verify(secret: str, headers: Any, body: bytes) -> bool:
    """Standard Webhooks verification, written from the spec (not voxhub's code)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    return (
        any(hmac.compare_digest(expected, g) for g in given)
        and abs(time.time() - int(headers["webhook-timestamp"])) < 300
    )


async def test_a_webhook_is_signed_retried_and_delivered_once(tmp_path: Path) -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    attempts: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        attempts.append((dict(request.headers), await request.read()))
        return web.Response(status=500 if len(attempts) == 1 else 204)  # the first delivery fails

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    env = {**FAKE_ONLY, "VOXHUB_JOBS__WEBHOOK_SECRET": secret, "VOXHUB_JOBS__WEBHOOK_BACKOFF_S": "0.2",
           "VOXHUB_JOBS__ALLOW_PRIVATE_WEBHOOKS": "true"}  # fmt: skip
    daemon = await asyncio.to_thread(start_daemon, tmp_path / "data", env)
    try:
        body = {"input": "Two short sentences. For the webhook.", "voice": "fake-low",
                "webhook": f"http://127.0.0.1:{port}/hook"}  # fmt: skip
        status, job = await asyncio.to_thread(request, daemon, "POST", "/v1/jobs", body)
        assert status == 202, job
        for _ in range(200):
            if len(attempts) >= 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a third delivery would come within the backoff
        assert len(attempts) == 2
        (first_headers, first_body), (headers, payload) = attempts
        assert verify(secret, headers, payload) and verify(secret, first_headers, first_body)
        assert headers["webhook-id"] == first_headers["webhook-id"]  # one event, delivered again
        assert not verify(
            secret.replace("A", "B", 1) if "A" in secret else secret + "A", headers, payload + b" "
        )
        event = json.loads(payload)
        assert event["type"] == "job.done" and event["data"]["id"] == job["id"]
        assert event["data"]["chunks_done"] == event["data"]["chunks_total"] == 1
        final = await asyncio.to_thread(wait_for, daemon, job["id"], lambda j: j["webhook"] == "delivered")
        assert final["state"] == "done"
    finally:
        await asyncio.to_thread(daemon.stop)
        await runner.cleanup()


def voxhub(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env["VOXHUB_DATA_DIR"] = str(daemon.data_dir / "cli")  # the CLI needs no data of its own
    return subprocess.run([sys.executable, "-m", "hub.cli", "job", *args, "--url", daemon.url], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_job_commands_submit_follow_list_cancel_and_fetch(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", env=slow_fake(0.05))
    try:
        book = tmp_path / "book.md"
        book.write_text("# Start\nIt begins here. Then it goes on.\n\n# End\nAnd that is all.\n")
        done = voxhub(daemon, "submit", str(book), "--voice", "fake-low", "-o", str(tmp_path / "book.m4b"))
        assert done.returncode == 0, done.stderr
        assert "[" + "#" * 30 + "]" in done.stderr and "done" in done.stderr  # the progress bar, full
        with av.open(str(tmp_path / "book.m4b")) as container:
            assert [c["metadata"]["title"] for c in container.chapters()] == ["Start", "End"]
        detached = voxhub(daemon, "submit", str(book), "--detach")
        job_id = detached.stdout.strip()
        assert detached.returncode == 0 and job_id.startswith("job_"), detached.stderr
        wait_for(daemon, job_id, lambda j: j["state"] == "done")
        listing = voxhub(daemon, "list")
        assert listing.returncode == 0 and job_id in listing.stdout and listing.stdout.count("done") == 2
        status = voxhub(daemon, "status", job_id)
        assert status.returncode == 0 and "2/2 chunks" in status.stdout, status.stdout
        fetched = voxhub(daemon, "fetch", job_id, "-o", str(tmp_path / "book.zip"), "--format", "zip")
        assert fetched.returncode == 0, fetched.stderr
        with zipfile.ZipFile(tmp_path / "book.zip") as archive:
            assert archive.namelist() == ["01-Start.wav", "02-End.wav"]
        long = tmp_path / "long.txt"
        # Long enough (140 chunks, about 7 s) that the job is still running when `cancel` (a new process) arrives.
        long.write_text(" ".join(SENTENCES * 10))
        running = voxhub(daemon, "submit", str(long), "--detach").stdout.strip()
        cancelled = voxhub(daemon, "cancel", running)
        assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
        missing = voxhub(daemon, "status", "job_nope")
        assert missing.returncode == 1 and "404" in missing.stderr and "not found" in missing.stderr
    finally:
        daemon.stop()
    gone = voxhub(daemon, "list")
    assert gone.returncode == 1 and "no voxhub daemon answers" in gone.stderr


def keyed(
    daemon: Daemon, method: str, path: str, key: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    req = urllib.request.Request(daemon.url + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_speak_keys_create_jobs_and_cancel_only_their_own_and_items_are_chapters(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "data", env=slow_fake())
    try:
        keys = {}
        for name, scope in (("kitchen", "speak"), ("garage", "speak"), ("me", "admin")):
            made = subprocess.run([sys.executable, "-m", "hub.cli", "keys", "create", name, "--scope", scope],
                                  cwd=REPO, capture_output=True, text=True, timeout=60,
                                  env={**{k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")},
                                       "VOXHUB_DATA_DIR": str(daemon.data_dir)})  # fmt: skip
            assert made.returncode == 0, made.stderr
            keys[name] = made.stdout.strip()
        body = {"items": [{"title": "Intro", "input": " ".join(SENTENCES[:7])}, " ".join(SENTENCES[7:])],
                "voice": "fake-low"}  # fmt: skip
        status, job = keyed(daemon, "POST", "/v1/jobs", keys["kitchen"], body)
        assert status == 202 and job["chapters"] == ["Intro", ""], job
        status, error = keyed(daemon, "DELETE", f"/v1/jobs/{job['id']}", keys["garage"])
        assert status == 403 and "created this job" in error["error"]["message"]
        assert keyed(daemon, "GET", f"/v1/jobs/{job['id']}", keys["garage"])[0] == 200  # reading is fine
        status, cancelled = keyed(daemon, "DELETE", f"/v1/jobs/{job['id']}", keys["kitchen"])
        assert status == 200 and cancelled["state"] == "cancelled"
        _, other = keyed(
            daemon, "POST", "/v1/jobs", keys["garage"], {"input": "Short one.", "voice": "fake-low"}
        )
        assert keyed(daemon, "DELETE", f"/v1/jobs/{other['id']}", keys["me"])[0] == 200  # admin: any job
        # a job that has ended is deleted by DELETE, audio and all
        status, gone = keyed(daemon, "DELETE", f"/v1/jobs/{job['id']}", keys["kitchen"])
        assert status == 200 and gone["deleted"] is True
        assert keyed(daemon, "GET", f"/v1/jobs/{job['id']}", keys["kitchen"])[0] == 404
        assert chunk_rows(tmp_path / "data", job["id"]) == {}
    finally:
        daemon.stop()


def process_state(pid: int) -> str:
    """The process's state letter from /proc (T stopped, Z zombie), or "gone"."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return "gone"


def test_a_paused_worker_does_not_outlive_a_killed_daemon(tmp_path: Path) -> None:
    # Workers paused (SIGSTOP) for a listener cannot read the end of their stdin: the kernel must end them.
    daemon = start_daemon(tmp_path / "data", env=FAKE_ONLY)
    pid = request(daemon, "GET", "/health")[1]["engines"]["fake"]["workers"][0]["pid"]
    assert pid and process_state(pid) in ("R", "S", "D")
    os.kill(pid, signal.SIGSTOP)
    daemon.kill()
    deadline = time.monotonic() + 10
    while process_state(pid) not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.1)
    state = process_state(pid)
    if state not in ("gone", "Z"):
        os.kill(pid, signal.SIGKILL)  # leave no stray process behind the failing test
    assert state in ("gone", "Z"), f"worker {pid} outlived the daemon (state {state})"
