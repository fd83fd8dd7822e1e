"""The worker process that hosts one engine: `python -m engines.worker`.

It speaks the typed protocol (engines.core.protocol) on the stdin/stdout it was started with. Anything an
engine or a library prints is sent to stderr instead, so stray output can never corrupt the protocol stream.
A reader thread takes messages as they come, so a `cancel` reaches a running synthesis within one chunk.
It imports only engines.core and the engine: it runs under another interpreter without the hub.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
import traceback
from typing import BinaryIO

from engines import load_engine_class
from engines.core.errors import ConfigError, EngineUnavailable, InvalidRequest, VoxhubError
from engines.core.interface import Engine, Stop, SynthesisRequest, VoiceReference
from engines.core.protocol import (
    PROTOCOL_VERSION,
    Audio,
    Cancel,
    Done,
    Error,
    Message,
    Prepare,
    Prepared,
    PromptMemo,
    Ready,
    Shutdown,
    Start,
    Synthesize,
    read_message,
    write_message,
)

log = logging.getLogger("voxhub.worker")


def _protocol_streams() -> tuple[BinaryIO, BinaryIO]:
    # Keep a private copy of the real stdout for messages, then point fd 1 at stderr.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return sys.stdin.buffer, out


class Worker:
    """Runs requests one at a time; cancellation arrives on the reader thread."""

    def __init__(self, events_in: BinaryIO, events_out: BinaryIO) -> None:
        self.events_in = events_in
        self.events_out = events_out
        self.jobs: queue.Queue[Message | None] = queue.Queue()
        self.stops: dict[str, Stop] = {}
        self.lock = threading.Lock()
        self.engine: Engine | None = None
        self.prompts = PromptMemo()

    def send(self, message: Message) -> None:
        write_message(self.events_out, message)

    def stop_for(self, job_id: str) -> Stop:
        with self.lock:
            return self.stops.setdefault(job_id, Stop())

    def read_loop(self) -> None:
        while True:
            message = read_message(self.events_in)
            if message is None or isinstance(message, Shutdown):
                self.jobs.put(None)
                return
            if isinstance(message, Cancel):
                self.stop_for(message.id).set()
            else:
                self.jobs.put(message)

    def run(self) -> int:
        first = read_message(self.events_in)
        if not isinstance(first, Start):
            return 2
        if first.protocol != PROTOCOL_VERSION:
            self.send(Error(f"the hub speaks worker protocol {first.protocol}, this worker {PROTOCOL_VERSION}: "
                            "run the worker from the same voxhub version as the daemon", code="protocol_mismatch",
                            status=503, type="server_error", restart=True))  # fmt: skip
            return 2
        try:
            engine_cls = load_engine_class(first.engine)
            self.engine = engine_cls(first.config)
            info = self.engine.info()
        except Exception as exc:
            code = "config_error" if isinstance(exc, ConfigError) else "start_failed"
            self.send(
                Error(
                    f"{type(exc).__name__}: {exc}", code=code, status=503, type="server_error", restart=True
                )
            )
            traceback.print_exc()
            return 1
        modules = sorted({name.split(".")[0] for name in list(sys.modules)})
        self.send(Ready(info.to_dict(), os.getpid(), sys.executable, PROTOCOL_VERSION, modules))
        threading.Thread(target=self.read_loop, name="events-in", daemon=True).start()
        self.warm_up()
        while (message := self.jobs.get()) is not None:
            self.handle(message)
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

    def handle(self, message: Message) -> None:
        job_id = str(getattr(message, "id", ""))
        try:
            if isinstance(message, Synthesize):
                self.synthesize(message)
            elif isinstance(message, Prepare):
                self.prepare(message)
            else:
                raise InvalidRequest(f"a worker cannot handle a {message.TYPE!r} message")
        except Exception as exc:
            log.debug("request %s failed", job_id, exc_info=True)
            if not isinstance(exc, VoxhubError):
                traceback.print_exc()
            self.send(Error.of(exc, job_id))
        finally:
            with self.lock:
                self.stops.pop(job_id, None)

    def synthesize(self, message: Synthesize) -> None:
        assert self.engine is not None
        prompt = (
            self.prompts.use(message.prompt_key, message.payload) if message.prompt_key else message.payload
        )
        if prompt is None:  # the hub mirrors this memo, so this means a bug: the hub must resend it
            raise EngineUnavailable("the worker lost the voice's prompt; retry the request", restart=True)
        request = SynthesisRequest(
            text=message.text, voice=message.voice, speed=message.speed, speaker=message.speaker,
            prompt=prompt or None, language=message.language, options=message.options,
            reference=message.reference,
        )  # fmt: skip
        stop = self.stop_for(message.id)
        for chunk in self.engine.synthesize(request, stop):
            if stop.is_set():
                break
            self.send(Audio(message.id, chunk.rate, chunk.width, chunk.channels, payload=chunk.audio))
        self.send(Done(message.id, cancelled=stop.is_set()))

    def prepare(self, message: Prepare) -> None:
        assert self.engine is not None
        ref = message.reference
        reference = VoiceReference(ref.name, message.payload, ref.rate, ref.transcript, ref.language)
        self.send(Prepared(message.id, payload=self.engine.prepare_voice(reference)))


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
