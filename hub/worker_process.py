"""One engine worker process: starting it (`python -m engines.worker`, possibly under another venv's
interpreter), the protocol handshake, running one job on it, pausing and stopping it.

A worker that dies fails only the job it was running (WorkerDied, which the pool turns into
EngineUnavailable) and is started again by its pool (hub.workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from engines.core.interface import EngineInfo
from engines.core.protocol import (
    MESSAGES,
    PROTOCOL_VERSION,
    Cancel,
    Done,
    Error,
    Message,
    Prepared,
    PromptMemo,
    ProtocolError,
    Ready,
    Shutdown,
    Start,
    async_read_message,
)
from hub.errors import ConfigError, EngineUnavailable
from hub.scheduler import Job
from hub.settings import EngineSettings

log = logging.getLogger("voxhub.workers")

SOURCE_ROOT = Path(__file__).resolve().parent.parent
STREAM_LIMIT = 64 << 20


def _prctl() -> Any:
    """libc's prctl on Linux (bound now, in the parent: the child between fork and exec must not load it)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the daemon dies, even by kill -9. A worker normally exits at
    the end of its stdin, but one paused (SIGSTOP) for a listener would never read it."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class WorkerDied(Exception):
    """The worker process ended while a job was running."""


class WorkerProcess:
    """One running `engines.worker` process."""

    def __init__(self, settings: EngineSettings, data_dir: Path | None = None) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.pid: int | None = None
        self.info: EngineInfo | None = None
        self.job: Job | None = None
        self.python = ""
        self.modules: list[str] = []
        """Top-level packages the worker had imported when it became ready."""
        self.prompts = PromptMemo()
        """Mirrors the worker's memo: which prompts it holds, so they are sent once, not per sentence."""
        self.must_restart = False
        """The engine said (in an error) that this worker cannot serve again."""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def gone(self) -> bool:
        """The process has ended or is ending, even if the event loop has not noticed yet."""
        if not self.alive or self.pid is None:
            return True
        stdout = self.proc.stdout if self.proc is not None else None
        if stdout is not None and stdout.at_eof():
            return True
        try:  # Linux: a killed worker's main thread is a zombie while its other threads still tear down
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except FileNotFoundError:
            return True
        except OSError:  # no procfs: trust the event loop
            return False
        return stat.rpartition(")")[2].split()[0] in ("Z", "X")

    async def start(self) -> EngineInfo:
        python = self.settings.python or sys.executable
        installed = (
            self.data_dir / "engines" / self.settings.name / "venv" / "bin" / "python"
            if self.data_dir
            else None
        )
        if (
            not self.settings.python and installed is not None and installed.exists()
        ):  # `voxhub engines install`
            python = str(installed)
        env = dict(os.environ)
        # A worker under another venv still finds voxhub's own source.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE_ROOT), env.get("PYTHONPATH")]))
        if self.data_dir is not None:  # engines find their downloaded models under the daemon's data dir
            env["VOXHUB_DATA_DIR"] = str(self.data_dir)
        self.proc = await asyncio.create_subprocess_exec(
            python, "-m", "engines.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, limit=STREAM_LIMIT,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        self.pid = self.proc.pid
        await self._send(Start(self.settings.name, self.config()))
        try:
            event = await asyncio.wait_for(self._read(), self.settings.start_timeout_s)
        except TimeoutError:
            await self.kill()
            raise EngineUnavailable(
                f"the {self.settings.name} worker did not start within {self.settings.start_timeout_s:g} s; "
                f"raise engines.{self.settings.name}.start_timeout_s or check the daemon's log"
            ) from None
        if not isinstance(event, Ready):
            await self.kill()
            message = event.message if isinstance(event, Error) else f"unexpected {event.TYPE!r} message"
            if isinstance(event, Error) and event.code == "config_error":
                raise ConfigError(message.removeprefix("ConfigError: "))
            raise EngineUnavailable(f"the {self.settings.name} engine failed to start: {message}")
        if event.protocol != PROTOCOL_VERSION:
            await self.kill()
            raise EngineUnavailable(
                f"the {self.settings.name} worker ({python}) speaks worker protocol {event.protocol}, the daemon "
                f"{PROTOCOL_VERSION}: install the same voxhub version in that environment"
            )
        self.info = EngineInfo.from_dict(event.info)
        self.python = event.python or python
        self.modules = list(event.modules)
        return self.info

    def config(self) -> dict[str, Any]:
        """The engine's options, with a threads hint when several workers share the cores."""
        config = dict(self.settings.options)
        if self.settings.workers > 1 and "threads" not in config:
            # N workers each using every core would fight over them: each gets its share instead.
            config["threads"] = max(1, (os.cpu_count() or 1) // self.settings.workers)
        return config

    async def run(self, job: Job) -> None:
        """Send `job` and stream its events into `job.results` until it ends."""
        self.job = job
        try:
            payload = job.payload
            key = job.data.get("prompt_key") if job.kind == "synthesize" else None
            if key and self.prompts.use(key) is not None:
                payload = b""  # the worker has it
            elif key:
                self.prompts.use(key, b"sent")  # the hub keeps only the keys
            await self._send(MESSAGES[job.kind].build({"id": job.id, **job.data}, payload))
            while True:
                event = await self._read()
                if getattr(event, "id", None) != job.id:
                    continue
                if isinstance(event, Error):
                    self.must_restart = event.restart
                    job.results.put_nowait(event.to_exception())
                    return
                job.results.put_nowait(event)
                if isinstance(event, (Done, Prepared)):
                    return
        finally:
            self.job = None

    async def cancel(self, job: Job) -> None:
        if self.job is job and self.alive:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(Cancel(job.id))

    def pause(self, paused: bool) -> None:
        """Stop (SIGSTOP) or continue (SIGCONT) the process: a job's chunk waits while a listener is served."""
        if self.pid is None or not self.alive or not hasattr(signal, "SIGSTOP"):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    async def stop(self, timeout: float = 5.0) -> None:
        if not self.alive:
            return
        self.pause(False)  # a stopped process would never read "shutdown"
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send(Shutdown())
        assert self.proc is not None
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def _send(self, message: Message) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(message.encode())
        await self.proc.stdin.drain()

    async def _read(self) -> Message:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            event = await async_read_message(self.proc.stdout)
        except ProtocolError as exc:
            await self.kill()
            raise WorkerDied(str(exc)) from exc
        if event is None:
            code = await self.proc.wait()
            raise WorkerDied(f"exit code {code}")
        return event
