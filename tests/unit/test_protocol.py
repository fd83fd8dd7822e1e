"""The typed worker protocol: every message round-trips with its type, audio stays raw bytes, versions are
checked at the handshake and engine errors keep what the hub reports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engines.core.errors import InvalidOption
from engines.core.interface import Reference
from engines.core.protocol import (
    PROTOCOL_VERSION,
    Audio,
    Error,
    Message,
    ProtocolError,
    Ready,
    Start,
    Synthesize,
    read_message,
    write_message,
)

REPO = Path(__file__).resolve().parents[2]


def test_messages_round_trip_with_raw_payloads() -> None:
    pcm = bytes(range(256)) * 4
    sent = [
        Synthesize(
            "1",
            "Hello.",
            "anna",
            language="de",
            options={"seed": 3},
            reference=Reference("anna", 24000, "hallo", "de"),
            payload=b"prompt",
        ),
        Audio("1", 24000, 2, 1, payload=pcm),
    ]
    stream = io.BytesIO()
    for message in sent:
        write_message(stream, message)
    header = json.loads(stream.getvalue().split(b"\n", 1)[0])
    assert header["type"] == "synthesize" and header["payload_length"] == len(b"prompt")
    assert pcm in stream.getvalue() and str(list(pcm[:8])) not in stream.getvalue().decode(errors="replace")
    stream.seek(0)
    assert [read_message(stream), read_message(stream), read_message(stream)] == [*sent, None]


def test_malformed_messages_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="bad message header"):
        read_message(io.BytesIO(b'{"type": "teleport", "data": {}}\n'))
    with pytest.raises(ProtocolError, match="bad synthesize message"):
        read_message(io.BytesIO(b'{"type": "synthesize", "data": {"id": "1"}}\n'))


def test_an_engine_error_keeps_status_code_param_and_restart() -> None:
    exc = InvalidOption("voice x has no speaker 'dave'", param="options.speaker")
    message = Error.of(exc, "7")
    stream = io.BytesIO()
    write_message(stream, message)
    stream.seek(0)
    rebuilt = read_message(stream)
    assert isinstance(rebuilt, Error)
    err = rebuilt.to_exception()
    assert (err.status, err.code, err.param, err.type, err.restart) == (
        400,
        "invalid_option",
        "options.speaker",
        "invalid_request_error",
        False,
    )
    assert Error.of(RuntimeError("boom"), "8", restart=True).to_exception().restart is True


def test_the_worker_refuses_another_protocol_version() -> None:
    worker = subprocess.run(
        [sys.executable, "-m", "engines.worker"], input=Start("fake", protocol=PROTOCOL_VERSION + 1).encode(),
        capture_output=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    reply = read_message(io.BytesIO(worker.stdout))
    assert isinstance(reply, Error) and reply.code == "protocol_mismatch" and worker.returncode == 2
    assert f"protocol {PROTOCOL_VERSION + 1}" in reply.message


def test_the_worker_reports_ready_without_importing_the_hub() -> None:
    worker = subprocess.run(
        [sys.executable, "-m", "engines.worker"], input=Start("fake").encode(), capture_output=True, cwd=REPO,
        timeout=60,
    )  # fmt: skip
    reply = read_message(io.BytesIO(worker.stdout))
    assert isinstance(reply, Ready) and reply.protocol == PROTOCOL_VERSION
    assert "engines" in reply.modules and "hub" not in reply.modules and "adapters" not in reply.modules


async def test_a_prompt_crosses_the_pipe_once_per_worker() -> None:
    from engines.core.protocol import Done
    from hub.scheduler import Job
    from hub.settings import EngineSettings
    from hub.worker_process import WorkerProcess

    worker = WorkerProcess(EngineSettings(name="fake"))
    await worker.start()
    sent: list[int] = []
    send = worker._send

    async def recording(message: Message) -> None:
        sent.append(len(message.payload))
        await send(message)

    worker._send = recording  # type: ignore[method-assign]
    try:
        audio = []
        for n in range(3):
            job = Job("synthesize", {"text": "Hi there.", "voice": "anna", "prompt_key": "k1"}, b"P" * 1000,
                      id=f"j{n}")  # fmt: skip
            await worker.run(job)
            replies = [job.results.get_nowait() for _ in range(job.results.qsize())]
            assert isinstance(replies[-1], Done), replies
            audio.append(b"".join(r.payload for r in replies))
        # The prompt went once; later sentences sent its key alone and spoke in the same (cloned) voice.
        assert sent == [1000, 0, 0] and audio[0] == audio[1] == audio[2]
    finally:
        await worker.stop()


@pytest.mark.parametrize("engine", ["fake", "piper", "pocket"])
def test_a_worker_runs_where_the_hub_cannot_be_imported(tmp_path: Path, engine: str) -> None:
    import os

    blocker = tmp_path / "blocker" / "hub"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('a worker must not import the hub')\n")
    (blocker.parent / "adapters").mkdir()
    (blocker.parent / "adapters" / "__init__.py").write_text("raise ImportError('nor the adapters')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker.parent), str(REPO)])}
    config = {"model_dir": str(tmp_path / "none")} if engine == "pocket" else {}
    messages = [Start(engine, config)]
    if engine != "pocket":  # without model files Pocket stops at start-up, with its instructions
        voice = "fake-low" if engine == "fake" else "en_US-joe-medium"
        messages.append(Synthesize("1", "Hello.", voice))
    worker = subprocess.run([sys.executable, "-m", "engines.worker"], input=b"".join(m.encode() for m in messages),
                            capture_output=True, cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    stream = io.BytesIO(worker.stdout)
    replies = []
    while (reply := read_message(stream)) is not None:
        replies.append(reply)
    if engine == "pocket":
        assert isinstance(replies[0], Error) and "voxhub models pull pocket-tts" in replies[0].message
        assert "ImportError" not in worker.stderr.decode()
        return
    assert isinstance(replies[0], Ready), worker.stderr.decode()[-2000:]
    assert [type(r).__name__ for r in replies[1:]][-1] == "Done" and len(replies) >= 3
