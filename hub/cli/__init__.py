"""The `voxhub` command line: the parser, `main`, and the `serve` and `say` commands.

The other command groups add themselves to the parser: `check` and `voices` (hub.cli.voices), `models`
(hub.cli.models), `engines` (hub.cli.engines), `keys` (hub.cli.keys), `job` (hub.cli.jobs).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub import __version__
from hub.errors import ConfigError, InvalidRequest, StorageError, VoxhubError
from hub.rules import MAX_SPEED, MIN_SPEED, OUTPUT_FORMATS, check_speed
from hub.settings import Settings, load_settings

log = logging.getLogger("voxhub")


def speed_arg(value: str) -> float:
    """An argparse type for `--speed`: the hub's rule (hub.rules.check_speed), in its words."""
    try:
        number: object = float(value)
    except ValueError:
        number = value  # not a number: the rule says what it wants
    try:
        return check_speed(number)
    except InvalidRequest as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxhub",
        description="voxhub: a local voice hub speaking preset and cloned voices over HTTP (OpenAI-compatible), "
        "Wyoming, MQTT, Discord and Slack.",
    )
    parser.add_argument(
        "--version", action="version", version=f"voxhub {__version__}", help="print the version and exit"
    )
    parser.add_argument("--config", metavar="PATH", help="a TOML config file (overrides the defaults)")
    # `--config` is accepted after the command too (`voxhub serve --config FILE`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="a TOML config file")
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="override log.level"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run the daemon (HTTP API and enabled adapters)",
                                description="Run the daemon until interrupted.")  # fmt: skip
    serve.add_argument("--host", help="override http.host")
    serve.add_argument("--port", type=int, help="override http.port (0 = any free port)")
    serve.set_defaults(func=cmd_serve)

    say = commands.add_parser("say", parents=[common], help="speak TEXT into an audio file (no daemon needed)",
                              description="Synthesize TEXT in-process and write it to a file or stdout.")  # fmt: skip
    say.add_argument("text", metavar="TEXT", help="the text to speak ('-' reads standard input)")
    say.add_argument("--voice", help="voice name or OpenAI alias (default: voices.default)")
    say.add_argument("--format", default=None, choices=OUTPUT_FORMATS,
                     help="audio format (default: from the -o suffix, else wav)")  # fmt: skip
    say.add_argument("--speed", type=speed_arg, default=1.0,
                     help=f"speaking rate, {MIN_SPEED}-{MAX_SPEED} (default 1.0)")  # fmt: skip
    say.add_argument("--speaker", help="speaker of a multi-speaker voice")
    say.add_argument("-o", "--output", metavar="FILE", help="output file ('-' or none = standard output)")
    say.add_argument("--check", action="store_true",
                     help="after speaking, report the ASR round-trip word error rate and (for a cloned voice) "
                          "the speaker similarity, on standard error")  # fmt: skip
    say.set_defaults(func=cmd_say)

    from hub.cli import engines as cli_engines
    from hub.cli import jobs as jobcli
    from hub.cli import keys as cli_keys
    from hub.cli import models as cli_models
    from hub.cli import voices as cli_voices

    cli_voices.add_commands(commands, common)
    cli_models.add_commands(commands, common)
    cli_engines.add_commands(commands, common)
    cli_keys.add_commands(commands, common)
    jobcli.add_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config, overrides=_overrides(args))
    except ConfigError as exc:
        print(f"voxhub: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(asyncio.run(args.func(settings, args)) or 0)
    except ConfigError as exc:
        print(f"voxhub: configuration error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:  # the data directory: one line naming it and the fix, no traceback
        print(f"voxhub: {exc.message}", file=sys.stderr)
        return 2
    except VoxhubError as exc:
        print(f"voxhub: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.log_level:
        overrides["log.level"] = args.log_level
    if getattr(args, "host", None):
        overrides["http.host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["http.port"] = args.port
    return overrides


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from adapters import load_adapter_class
    from adapters.http import HttpAdapter
    from hub.api import Hub

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("data directory: %s", settings.data_dir)
    async with Hub.open(settings) as hub:
        # Adapters parse their own options first, so a bad [adapters.*] key stops start-up cleanly.
        try:
            adapters = [load_adapter_class(a.name)(hub, a.options) for a in settings.enabled_adapters]
        except ConfigError as exc:
            print(f"voxhub: configuration error: {exc}", file=sys.stderr)
            return 2
        started = []
        try:
            for config, adapter in zip(settings.enabled_adapters, adapters, strict=True):
                await adapter.start()
                started.append(adapter)
                hub.register_adapter(config.name, adapter)
            # Last: the other adapters' routes are in (Hub.add_http_route) before the server starts.
            http = HttpAdapter(hub, settings.http)
            await http.start()
            started.append(http)
            await stop.wait()
        finally:
            for adapter in reversed(started):
                await adapter.stop()
    return 0


async def cmd_say(settings: Settings, args: argparse.Namespace) -> int:
    from hub import audio
    from hub.api import Hub, SpeechRequest

    text = sys.stdin.read() if args.text == "-" else args.text
    out = args.output if args.output not in (None, "-") else None
    suffix = Path(out).suffix.lstrip(".").lower() if out else ""
    fmt = args.format or (suffix if suffix in OUTPUT_FORMATS else "wav")
    async with Hub.open(settings) as hub:
        stream = await hub.synthesize(
            SpeechRequest(text, voice=args.voice, speed=args.speed, speaker=args.speaker)
        )
        if out or args.check:
            # A file gets exact headers (sizes, frame counts): encode once at the end.
            chunk = await stream.collect()
            encoded = audio.encode(fmt, chunk)
            if out:
                Path(out).write_bytes(encoded)
            else:
                sys.stdout.buffer.write(encoded)
            seconds = chunk.seconds
            if args.check:
                await _report_synthesis(hub, stream.voice, audio.encode("wav", chunk), text)
        else:
            async for data in audio.encode_stream(fmt, stream):
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
    if out:
        print(f"wrote {seconds:.2f} s of {stream.voice.name} to {out} ({fmt})", file=sys.stderr)
    return 0


async def _report_synthesis(hub: Any, voice: Any, wav: bytes, text: str) -> None:
    against = voice.name if voice.kind == "cloned" else None
    report = await hub.check(wav, against=against, text=text)
    wer, similarity = report.metrics.get("wer"), report.metrics.get("similarity")
    line = f"check: word error rate {wer:.0%}" if wer is not None else "check: no speech recognized"
    line += f", similarity to {voice.name} {similarity:.2f}" if similarity is not None else ""
    print(f"{line} ({report.verdict}); heard: {report.transcript!r}", file=sys.stderr)
