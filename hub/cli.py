"""The `voxhub` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub import __version__
from hub.errors import ConfigError, VoxhubError
from hub.settings import Settings, load_settings

log = logging.getLogger("voxhub")


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
    say.add_argument("--format", default=None, choices=("wav", "mp3", "opus", "aac", "flac", "pcm"),
                     help="audio format (default: from the -o suffix, else wav)")  # fmt: skip
    say.add_argument("--speed", type=float, default=1.0, help="speaking rate, 0.25-4.0 (default 1.0)")
    say.add_argument("--speaker", help="speaker of a multi-speaker voice")
    say.add_argument("-o", "--output", metavar="FILE", help="output file ('-' or none = standard output)")
    say.set_defaults(func=cmd_say)

    voices = commands.add_parser("voices", parents=[common], help="list, add, show and remove voices",
                                 description="Manage the voice library.")  # fmt: skip
    voice_commands = voices.add_subparsers(dest="voices_command", metavar="ACTION", required=True)
    vlist = voice_commands.add_parser(
        "list", parents=[common], help="list every voice (presets and cloned)", description="List voices."
    )
    vlist.add_argument("--json", action="store_true", help="print JSON instead of a table")
    vlist.set_defaults(func=cmd_voices_list)
    vadd = voice_commands.add_parser("add", parents=[common], help="enroll a cloned voice from a reference clip",
                                     description="Enroll NAME from CLIP (wav, flac, mp3, ogg, m4a, webm).")  # fmt: skip
    vadd.add_argument("name", metavar="NAME", help="the new voice's name (letters, digits, - _ .)")
    vadd.add_argument("clip", metavar="CLIP", help="path of the reference clip")
    vadd.add_argument("--transcript", default="", help="what is said in the clip")
    vadd.add_argument("--language", default="", help="language code of the clip, e.g. en")
    vadd.add_argument("--replace", action="store_true", help="replace a voice of the same name")
    vadd.set_defaults(func=cmd_voices_add)
    vshow = voice_commands.add_parser(
        "show", parents=[common], help="show one voice as JSON", description="Show one voice."
    )
    vshow.add_argument("name", metavar="NAME", help="voice name")
    vshow.set_defaults(func=cmd_voices_show)
    vremove = voice_commands.add_parser(
        "remove", parents=[common], help="remove a cloned voice", description="Remove a cloned voice."
    )
    vremove.add_argument("name", metavar="NAME", help="voice name")
    vremove.set_defaults(func=cmd_voices_remove)
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
    from hub.api import Hub
    from hub.http.server import run_server

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
            for adapter in adapters:
                await adapter.start()
                started.append(adapter)
            await run_server(hub, stop)
        finally:
            for adapter in reversed(started):
                await adapter.stop()
    return 0


async def cmd_say(settings: Settings, args: argparse.Namespace) -> int:
    from hub import audio
    from hub.api import Hub, SpeechRequest

    text = sys.stdin.read() if args.text == "-" else args.text
    out = args.output if args.output not in (None, "-") else None
    fmt = args.format or (Path(out).suffix.lstrip(".").lower() if out else "wav")
    if fmt not in audio.FORMATS:
        fmt = "wav" if args.format is None else fmt
    async with Hub.open(settings) as hub:
        stream = await hub.synthesize(
            SpeechRequest(text, voice=args.voice, speed=args.speed, speaker=args.speaker)
        )
        if out:
            # A file gets exact headers (sizes, frame counts): encode once at the end.
            chunk = await stream.collect()
            Path(out).write_bytes(audio.encode(fmt, chunk))
            seconds = chunk.seconds
        else:
            encoder = None
            async for piece in stream:
                encoder = encoder or audio.open_encoder(fmt, piece.rate, piece.channels)
                sys.stdout.buffer.write(encoder.feed(piece.audio))
                sys.stdout.buffer.flush()
            if encoder is not None:
                sys.stdout.buffer.write(encoder.finish())
    if out:
        print(f"wrote {seconds:.2f} s of {stream.voice.name} to {out} ({fmt})", file=sys.stderr)
    return 0


async def cmd_voices_list(settings: Settings, args: argparse.Namespace) -> int:
    from hub.api import Hub

    async with Hub.open(settings) as hub:
        voices = await hub.list_voices()
    if args.json:
        print(json.dumps([v.to_dict() for v in voices], indent=2))
        return 0
    width = max([len(v.name) for v in voices] + [4])
    print(f"{'NAME':<{width}}  {'ENGINE':<8}  {'KIND':<7}  LANGUAGES  DESCRIPTION")
    for v in voices:
        print(
            f"{v.name:<{width}}  {v.engine:<8}  {v.kind:<7}  {','.join(v.languages) or '-':<9}  {v.description}"
        )
    return 0


async def cmd_voices_add(settings: Settings, args: argparse.Namespace) -> int:
    from hub.api import Hub

    clip = Path(args.clip)
    if not clip.is_file():
        print(f"voxhub: {clip} is not a file: give the path of a reference clip", file=sys.stderr)
        return 2
    async with Hub.open(settings) as hub:
        voice = await hub.enroll(
            args.name,
            clip.read_bytes(),
            transcript=args.transcript,
            language=args.language,
            replace=args.replace,
        )
    print(json.dumps(voice.to_dict(), indent=2))
    return 0


async def cmd_voices_show(settings: Settings, args: argparse.Namespace) -> int:
    from hub.api import Hub

    async with Hub.open(settings) as hub:
        voice = await hub.get_voice(args.name)
    print(json.dumps(voice.to_dict(), indent=2))
    return 0


async def cmd_voices_remove(settings: Settings, args: argparse.Namespace) -> int:
    from hub.api import Hub

    async with Hub.open(settings) as hub:
        await hub.delete_voice(args.name)
    print(f"removed {args.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
