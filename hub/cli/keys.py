"""`voxhub keys create|list|revoke`: the HTTP API's keys, stored hashed in voxhub.db."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hub.settings import Settings


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """The `keys` command group (called by hub.cli.build_parser)."""
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
