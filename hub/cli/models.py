"""`voxhub models list|pull`: every downloadable model, through the one model source interface.

The sources (engines.core.model_sources.ModelSource: ZipVoice, Pocket TTS, the Whisper registry) are named in
engines.MODEL_SOURCES and loaded by hub.models.sources(); this module knows no engine: it hands each source
a ModelContext (data dir, its engine's config options, --token, --precision) and prints what it returns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from engines.core.model_sources import ModelContext, ModelSource, by_name
from hub.models import sources
from hub.settings import Settings


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """The `models` command group (called by hub.cli.build_parser)."""
    models = commands.add_parser("models", parents=[common], help="list and download engine models",
                                 description="Manage downloadable models (engine models, speech recognition).")  # fmt: skip
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


def _context(settings: Settings, source: ModelSource, args: argparse.Namespace) -> ModelContext:
    """What `source` may use: the data dir, its engine's `[engines.NAME]` options, the pull's flags."""
    section = settings.engines.get(source.engine) if source.engine else None
    return ModelContext(settings.data_dir, dict(section.options) if section else {},
                        getattr(args, "token", None), getattr(args, "precision", None))  # fmt: skip


async def cmd_models_list(settings: Settings, args: argparse.Namespace) -> int:
    listed = []
    for source in sources().values():
        context = _context(settings, source, args)
        listed.append((source, context, source.rows(context)))
    if args.json:
        print(json.dumps([row for _, _, rows in listed for row in rows], indent=2))
        return 0
    for source, context, rows in listed:
        print("\n".join(source.lines(rows, context)))
    return 0


async def cmd_models_pull(settings: Settings, args: argparse.Namespace) -> int:
    names = by_name(sources())
    if args.name not in names:
        print(f"voxhub: unknown model {args.name!r}: use one of {', '.join(names)}", file=sys.stderr)
        return 2
    source = names[args.name]
    context = _context(settings, source, args)
    said = await asyncio.to_thread(source.pull, args.name, context, lambda m: print(m, file=sys.stderr))
    print(said, file=sys.stderr)
    return 0
