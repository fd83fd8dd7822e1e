"""The worker process that hosts one engine: `python -m engines.worker`.

It speaks framed events (engines.protocol) on the stdin/stdout it was started with. Anything an engine
or a library prints is sent to stderr instead, so stray output can never corrupt the protocol stream.
A reader thread takes events as they come, so a `cancel` reaches a running synthesis between chunks.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO

from engines import load_engine_class
from engines.base import Engine, SynthesisRequest, VoiceReference
from engines.protocol import Event, read_event, write_event

log = logging.getLogger("voxhub.worker")


class EngineRequestError(Exception):
    """Raised by engines for a bad request; the worker stays up."""


def _protocol_streams() -> tuple[BinaryIO, BinaryIO]:
    # Keep a private copy of the real stdout for events, then point fd 1 at stderr.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return sys.stdin.buffer, out


class Worker:
    """Runs requests one at a time; cancellation arrives on the reader thread."""

    def __init__(self, events_in: BinaryIO, events_out: BinaryIO) -> None:
        self.events_in = events_in
        self.events_out = events_out
        self.jobs: queue.Queue[Event | None] = queue.Queue()
        self.cancelled: set[str] = set()
        self.engine: Engine | None = None

    def send(self, event: Event) -> None:
        write_event(self.events_out, event)

    def read_loop(self) -> None:
        while True:
            event = read_event(self.events_in)
            if event is None or event.type == "shutdown":
                self.jobs.put(None)
                return
            if event.type == "cancel":
                self.cancelled.add(str(event.data.get("id")))
            else:
                self.jobs.put(event)

    def run(self) -> int:
        first = read_event(self.events_in)
        if first is None or first.type != "start":
            return 2
        try:
            engine_cls = load_engine_class(first.data["engine"])
            self.engine = engine_cls(first.data.get("config") or {})
            info = self.engine.info()
        except Exception as exc:
            self.send(
                Event(
                    "error",
                    {
                        "code": _start_error_code(exc),
                        "message": f"{type(exc).__name__}: {exc}",
                        "fatal": True,
                    },
                )
            )
            traceback.print_exc()
            return 1
        self.send(Event("ready", {"info": info.to_dict(), "pid": os.getpid(), "python": sys.executable}))
        threading.Thread(target=self.read_loop, name="events-in", daemon=True).start()
        self.warm_up()
        while (event := self.jobs.get()) is not None:
            self.handle(event)
        if self.engine is not None:
            self.engine.close()
        return 0

    def warm_up(self) -> None:
        """Let the engine load its models while requests queue, so the first one does not pay for it."""
        assert self.engine is not None
        started = time.perf_counter()
        try:
            self.engine.warm_up()
        except Exception:  # the first request reports the same problem to its caller
            log.warning("warm-up failed; the first request will try again", exc_info=True)
            return
        log.info("%s warmed up in %.2f s", type(self.engine).__name__, time.perf_counter() - started)

    def handle(self, event: Event) -> None:
        job_id = str(event.data.get("id"))
        try:
            if event.type == "synthesize":
                self.synthesize(job_id, event)
            elif event.type == "prepare":
                self.prepare(job_id, event)
            else:
                raise EngineRequestError(f"unknown event type {event.type!r}")
        except Exception as exc:
            from hub.errors import VoxhubError

            code = exc.code if isinstance(exc, VoxhubError) else "engine_error"
            log.debug("request %s failed", job_id, exc_info=True)
            if not isinstance(exc, (VoxhubError, EngineRequestError, ValueError, KeyError)):
                traceback.print_exc()
            self.send(Event("error", {"id": job_id, "code": code, "message": str(exc), "fatal": False}))
        finally:
            self.cancelled.discard(job_id)

    def synthesize(self, job_id: str, event: Event) -> None:
        assert self.engine is not None
        request = SynthesisRequest(**event.data["request"], prompt=event.payload or None)
        for chunk in self.engine.synthesize(request, lambda: job_id in self.cancelled):
            if job_id in self.cancelled:
                break
            header: dict[str, Any] = {
                "id": job_id,
                "rate": chunk.rate,
                "width": chunk.width,
                "channels": chunk.channels,
            }
            self.send(Event("audio", header, chunk.audio))
        self.send(Event("done", {"id": job_id, "cancelled": job_id in self.cancelled}))

    def prepare(self, job_id: str, event: Event) -> None:
        assert self.engine is not None
        reference = VoiceReference(**event.data["reference"], audio=event.payload)
        prompt = self.engine.prepare_voice(reference)
        self.send(Event("prepared", {"id": job_id}, prompt))


def _start_error_code(exc: Exception) -> str:
    from hub.errors import ConfigError

    # A bad [engines.NAME] option stops the daemon's start-up; anything else is a broken engine.
    return "config_error" if isinstance(exc, ConfigError) else "start_failed"


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("VOXHUB_WORKER_LOG", "WARNING").upper(),
        format="%(asctime)s worker[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    events_in, events_out = _protocol_streams()
    return Worker(events_in, events_out).run()


if __name__ == "__main__":
    sys.exit(main())
