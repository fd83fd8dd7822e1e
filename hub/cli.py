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
from hub.errors import ConfigError, StorageError, VoxhubError
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
    say.add_argument("--check", action="store_true",
                     help="after speaking, report the ASR round-trip word error rate and (for a cloned voice) "
                          "the speaker similarity, on standard error")  # fmt: skip
    say.set_defaults(func=cmd_say)

    check = commands.add_parser("check", parents=[common], help="quality report of a clip (exit 0 accept, 1 warn, 2 reject)",
                                description="Check CLIP for cloning: speech, loudness, clipping, noise, bandwidth, "
                                "speakers, transcript; each finding with advice.")  # fmt: skip
    check.add_argument("clip", metavar="CLIP", help="path of the audio clip (wav, flac, mp3, ogg, m4a, webm)")
    check.add_argument("--against", metavar="VOICE",
                       help="compare with a cloned voice: speaker similarity (the post-synthesis check)")  # fmt: skip
    check.add_argument("--text", help="what the clip should say: adds the ASR round-trip word error rate")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_check)

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
    vadd.add_argument("--consent", action="store_true",
                      help="confirm that the speaker in the clip consented to their voice being cloned (required)")  # fmt: skip
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

    models = commands.add_parser("models", parents=[common], help="list and download engine models",
                                 description="Manage downloadable models (ZipVoice).")  # fmt: skip
    model_commands = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    mlist = model_commands.add_parser("list", parents=[common], help="show which models are installed",
                                      description="List the models and whether they are installed.")  # fmt: skip
    mlist.add_argument("--json", action="store_true", help="print JSON instead of a table")
    mlist.set_defaults(func=cmd_models_list)
    mpull = model_commands.add_parser("pull", parents=[common], help="download a model from Hugging Face",
                                      description="Download NAME's files (resumable, checksummed).")  # fmt: skip
    mpull.add_argument("name", metavar="NAME",
                       help="zipvoice, zipvoice-distill, pocket-tts, or a speech recognition model (whisper-base, "
                            "openai-whisper-base, ...; `voxhub models list` shows all)")  # fmt: skip
    mpull.add_argument("--precision", choices=("fp32", "int8", "all"), default=None,
                       help="which files (default: engines.zipvoice.precision)")  # fmt: skip
    mpull.set_defaults(func=cmd_models_pull)
    mpull.add_argument("--token", default=None,
                       help="Hugging Face token for gated files (pocket-tts's cloning checkpoint; default: HF_TOKEN)")  # fmt: skip
    from hub.cli_engines import add_commands

    add_commands(commands, common)
    keys = commands.add_parser("keys", parents=[common], help="create, list and revoke API keys",
                               description="Manage the HTTP API's keys (stored hashed in voxhub.db; a running "
                               "daemon sees changes at once).")  # fmt: skip
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    kcreate = key_commands.add_parser("create", parents=[common], help="create a key and print it once",
                                      description="Create a key named NAME; the key is printed once.")  # fmt: skip
    kcreate.add_argument("name", metavar="NAME", help="a name to know the key by (who or what uses it)")
    kcreate.add_argument("--scope", choices=("speak", "admin"), default="speak",
                         help="speak: speech, models, voices (read), quality checks; admin: also enroll and "
                              "remove voices (default: speak)")  # fmt: skip
    kcreate.set_defaults(func=cmd_keys_create)
    klist = key_commands.add_parser("list", parents=[common], help="list keys (names, scopes, dates; never the key)",
                                    description="List the keys: name, scope, created, last used.")  # fmt: skip
    klist.add_argument("--json", action="store_true", help="print JSON instead of a table")
    klist.set_defaults(func=cmd_keys_list)
    krevoke = key_commands.add_parser("revoke", parents=[common], help="revoke a key at once",
                                      description="Delete the key named NAME; it stops working at once.")  # fmt: skip
    krevoke.add_argument("name", metavar="NAME", help="the key's name")
    krevoke.set_defaults(func=cmd_keys_revoke)
    from hub import jobcli

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
    fmt = args.format or (Path(out).suffix.lstrip(".").lower() if out else "wav")
    if fmt not in audio.FORMATS:
        fmt = "wav" if args.format is None else fmt
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


async def _report_synthesis(hub: Any, voice: Any, wav: bytes, text: str) -> None:
    against = voice.name if voice.kind == "cloned" else None
    report = await hub.check(wav, against=against, text=text)
    wer, similarity = report.metrics.get("wer"), report.metrics.get("similarity")
    line = f"check: word error rate {wer:.0%}" if wer is not None else "check: no speech recognized"
    line += f", similarity to {voice.name} {similarity:.2f}" if similarity is not None else ""
    print(f"{line} ({report.verdict}); heard: {report.transcript!r}", file=sys.stderr)


async def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from hub.api import Hub
    from hub.errors import BadAudio

    clip = Path(args.clip)
    if not clip.is_file():
        print(f"voxhub: {clip} is not a file: give the path of an audio clip", file=sys.stderr)
        return 2
    if not args.against:
        settings = settings.with_changes(engines={})  # no synthesis needed: skip starting engine workers
    async with Hub.open(settings) as hub:
        try:
            report = await hub.check(clip.read_bytes(), against=args.against, text=args.text)
        except BadAudio as exc:
            print(f"voxhub: reject: {exc.message}", file=sys.stderr)
            return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return report.exit_code


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
    import getpass

    from hub.api import Consent, Hub

    clip = Path(args.clip)
    if not clip.is_file():
        print(f"voxhub: {clip} is not a file: give the path of a reference clip", file=sys.stderr)
        return 2
    from hub.quality.clip import ClipRejected

    async with Hub.open(settings) as hub:
        try:
            voice = await hub.enroll(
                args.name,
                clip.read_bytes(),
                transcript=args.transcript,
                language=args.language,
                replace=args.replace,
                consent=Consent("cli", getpass.getuser()) if args.consent else None,
            )
        except ClipRejected as exc:
            print(f"voxhub: {exc.message}", file=sys.stderr)
            return 2
        details = await hub.voice_details(voice.name)
    print(json.dumps(details, indent=2))
    report = details.get("quality") or {}
    print(f"quality: {report.get('verdict')} (score {report.get('score')})", file=sys.stderr)
    for finding in report.get("findings", []):
        print(f"  {finding['severity']:<6} {finding['code']}: {finding['message']}", file=sys.stderr)
    return 0


async def cmd_voices_show(settings: Settings, args: argparse.Namespace) -> int:
    from hub.api import Hub

    async with Hub.open(settings) as hub:
        details = await hub.voice_details(args.name)
    print(json.dumps(details, indent=2))
    return 0


async def cmd_voices_remove(settings: Settings, args: argparse.Namespace) -> int:
    from hub.api import Hub

    async with Hub.open(settings) as hub:
        await hub.delete_voice(args.name)
    print(f"removed {args.name}", file=sys.stderr)
    return 0


async def cmd_keys_create(settings: Settings, args: argparse.Namespace) -> int:
    from hub import keys
    from hub.library import VoiceLibrary

    key = keys.new_key()
    with VoiceLibrary.open(settings.db_path) as library:
        library.add_api_key(args.name, keys.digest(key), args.scope)
    print(key)
    print(
        f"created {args.scope} key {args.name!r}: it is shown only now (voxhub.db keeps a hash)",
        file=sys.stderr,
    )
    return 0


async def cmd_keys_list(settings: Settings, args: argparse.Namespace) -> int:
    import datetime

    from hub.library import VoiceLibrary

    with VoiceLibrary.open(settings.db_path) as library:
        rows = library.api_keys()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0

    def when(stamp: float | None) -> str:
        return datetime.datetime.fromtimestamp(stamp).isoformat(" ", "seconds") if stamp else "never"

    width = max([len(r["name"]) for r in rows] + [4])
    print(f"{'NAME':<{width}}  {'SCOPE':<5}  {'CREATED':<19}  LAST USED")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['scope']:<5}  {when(r['created_at']):<19}  {when(r['last_used'])}")
    return 0


async def cmd_keys_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from hub.library import VoiceLibrary

    with VoiceLibrary.open(settings.db_path) as library:
        if not library.revoke_api_key(args.name):
            names = ", ".join(r["name"] for r in library.api_keys()) or "none"
            print(f"voxhub: no key named {args.name!r} (keys: {names})", file=sys.stderr)
            return 2
    print(f"revoked {args.name}", file=sys.stderr)
    return 0


def _zipvoice_dir(settings: Settings) -> Path:
    from engines.zipvoice.models import default_model_dir

    section = settings.engines.get("zipvoice")
    configured = str(section.options.get("model_dir") or "") if section else ""
    return Path(configured).expanduser() if configured else default_model_dir(settings.data_dir)


async def cmd_models_list(settings: Settings, args: argparse.Namespace) -> int:
    from engines.zipvoice.models import installed
    from hub import models as hub_models

    rows = installed(_zipvoice_dir(settings))
    models_dir = settings.data_dir / "models"
    others = [{"name": m.name, "installed": m.is_present(models_dir), "description": m.description,
               "path": str(m.directory(models_dir))} for m in hub_models.MODELS.values()]  # fmt: skip
    if args.json:
        from hub.cli_engines import pocket_row

        print(json.dumps([*rows, pocket_row(settings), *others], indent=2))
        return 0
    print(f"{'NAME':<17}  {'PRECISION':<9}  {'STATE':<9}  {'SIZE':>9}  MISSING")
    for row in rows:
        state = ("verified" if row["verified"] else "installed") if row["installed"] else "missing"
        print(f"{row['name']:<17}  {row['precision']:<9}  {state:<9}  {row['size_mb']:>7.1f}MB  "
              f"{', '.join(row['missing']) or '-'}")  # fmt: skip
    print(f"model dir: {_zipvoice_dir(settings)}")
    from hub.cli_engines import pocket_row

    pocket = pocket_row(settings)
    print(f"{pocket['name']:<17}  {'-':<9}  {'installed' if pocket['installed'] else 'missing':<9}  "
          f"cloning {'yes' if pocket['cloning'] else 'no'}, voices: {', '.join(pocket['voices']) or '-'}")  # fmt: skip
    for row in others:
        state = "installed" if row["installed"] else "missing"
        print(f"{row['name']:<22}  {state:<9}  {row['description']}")
    print(f"speech recognition models: {models_dir}")
    return 0


async def cmd_models_pull(settings: Settings, args: argparse.Namespace) -> int:
    from engines.zipvoice.models import MODELS, PRECISIONS, pull
    from hub import models as hub_models

    if args.name == "pocket-tts":
        from hub.cli_engines import pull_pocket

        return await pull_pocket(settings, args)
    if args.name in hub_models.MODELS:
        log = lambda m: print(m, file=sys.stderr)  # noqa: E731
        where = await asyncio.to_thread(hub_models.pull, args.name, settings.data_dir / "models", log)
        print(f"{args.name} installed in {where}", file=sys.stderr)
        return 0
    if args.name not in MODELS:
        known = ", ".join([*MODELS, "pocket-tts", *hub_models.MODELS])
        print(f"voxhub: unknown model {args.name!r}: use one of {known}", file=sys.stderr)
        return 2
    section = settings.engines.get("zipvoice")
    precision = args.precision or str(section.options.get("precision", "fp32") if section else "fp32")
    precisions = PRECISIONS if precision == "all" else (precision,)
    model_dir = _zipvoice_dir(settings)
    paths = await asyncio.to_thread(
        pull, args.name, model_dir, precisions, lambda m: print(m, file=sys.stderr)
    )
    print(
        f"{args.name} ({', '.join(precisions)}) installed in {model_dir}: {len(paths)} files", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
