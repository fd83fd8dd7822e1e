"""`voxhub engines list|install`: the engines and their own environments.

An engine may run in a venv of its own (`<data dir>/engines/NAME/venv`), with the pinned requirements its
class declares (`REQUIREMENTS`): torch engines pin their own torch/numpy. The pool starts that engine's
workers with the venv's interpreter unless `engines.NAME.python` names another one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hub.errors import InvalidRequest
from hub.settings import Settings


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """The `engines` command group (called by hub.cli.build_parser)."""
    engines = commands.add_parser("engines", parents=[common], help="list engines and give one its own venv",
                                  description="Engines, their interpreters and their own environments.")  # fmt: skip
    actions = engines.add_subparsers(dest="engines_command", metavar="ACTION", required=True)
    elist = actions.add_parser("list", parents=[common], help="list engines, whether enabled, and their interpreter",
                               description="List every engine: enabled or not, the interpreter its workers use, "
                               "its pinned requirements.")  # fmt: skip
    elist.add_argument("--json", action="store_true", help="print JSON instead of a table")
    elist.set_defaults(func=cmd_engines_list)
    install = actions.add_parser("install", parents=[common], help="create NAME's venv with its pinned requirements",
                                 description="Create <data dir>/engines/NAME/venv, install the engine's pinned "
                                 "requirements there and use it for NAME's workers.")  # fmt: skip
    install.add_argument("name", metavar="NAME", help="the engine (voxhub engines list)")
    install.add_argument("--system-site-packages", action="store_true",
                         help="let the venv see the packages of the interpreter running voxhub (fast, offline)")  # fmt: skip
    install.add_argument("--python", metavar="PATH", default=sys.executable,
                         help="the interpreter to build the venv from (default: the one running voxhub)")  # fmt: skip
    install.set_defaults(func=cmd_engines_install)


def venv_python(data_dir: Path, name: str) -> Path:
    """Where `voxhub engines install NAME` puts the engine's interpreter."""
    return data_dir / "engines" / name / "venv" / "bin" / "python"


def _requirements(name: str) -> tuple[str, ...]:
    from engines import ENGINES, load_engine_class

    if name not in ENGINES:
        raise InvalidRequest(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}", param="name")
    return tuple(getattr(load_engine_class(name), "REQUIREMENTS", ()))


async def cmd_engines_list(settings: Settings, args: argparse.Namespace) -> int:
    from engines import ENGINES

    rows = []
    for name in ENGINES:
        section = settings.engines.get(name)
        venv = venv_python(settings.data_dir, name)
        python = (section.python if section else "") or (str(venv) if venv.exists() else sys.executable)
        rows.append({"name": name, "enabled": bool(section and section.enabled), "python": python,
                     "own_venv": venv.exists(), "requirements": list(_requirements(name))})  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        print(f"{row['name']:<10}  {state:<8}  {row['python']}")
    return 0


async def cmd_engines_install(settings: Settings, args: argparse.Namespace) -> int:
    requirements = _requirements(args.name)
    venv = venv_python(settings.data_dir, args.name).parent.parent
    command = [
        args.python,
        "-m",
        "venv",
        *(["--system-site-packages"] if args.system_site_packages else []),
        str(venv),
    ]
    print(f"creating {venv}", file=sys.stderr)
    await asyncio.to_thread(subprocess.run, command, check=True)
    python = venv / "bin" / "python"
    if requirements:
        print(f"installing {', '.join(requirements)}", file=sys.stderr)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements]
        result = await asyncio.to_thread(subprocess.run, pip)
        if result.returncode != 0:
            print(f"voxhub: pip could not install {args.name}'s requirements into {venv} (see above); the engine "
                  "keeps the daemon's interpreter", file=sys.stderr)  # fmt: skip
            (venv / "bin" / "python").rename(venv / "bin" / "python.failed")
            return 1
    record = {"engine": args.name, "python": str(python), "requirements": list(requirements),
              "installed_at": time.time()}  # fmt: skip
    (venv.parent / "installed.json").write_text(json.dumps(record, indent=2))
    print(f"{args.name} will run under {python} (restart the daemon to use it)", file=sys.stderr)
    return 0
