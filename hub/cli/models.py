"""`voxhub models list|pull`: downloadable models (ZipVoice, pocket-tts, speech recognition)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from hub.settings import Settings


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """The `models` command group (called by hub.cli.build_parser)."""
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
        from hub.cli.engines import pocket_row

        print(json.dumps([*rows, pocket_row(settings), *others], indent=2))
        return 0
    print(f"{'NAME':<17}  {'PRECISION':<9}  {'STATE':<9}  {'SIZE':>9}  MISSING")
    for row in rows:
        state = ("verified" if row["verified"] else "installed") if row["installed"] else "missing"
        print(f"{row['name']:<17}  {row['precision']:<9}  {state:<9}  {row['size_mb']:>7.1f}MB  "
              f"{', '.join(row['missing']) or '-'}")  # fmt: skip
    print(f"model dir: {_zipvoice_dir(settings)}")
    from hub.cli.engines import pocket_row

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
        from hub.cli.engines import pull_pocket

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
