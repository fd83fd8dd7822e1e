"""`voxhub check` and `voxhub voices list|add|show|remove`: quality reports and the voice library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hub.settings import Settings


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """The `check` and `voices` commands (called by hub.cli.build_parser)."""
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
