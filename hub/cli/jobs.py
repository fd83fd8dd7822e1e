"""`voxhub job ...`: long-form jobs through a running daemon's HTTP API (jobs live in the daemon)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp

from hub.cli import speed_arg
from hub.jobs.audio import JOB_FORMATS
from hub.jobs.text import input_format_of
from hub.rules import MAX_SPEED, MIN_SPEED
from hub.settings import Settings


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `voxhub job submit|list|status|cancel|fetch` to the CLI."""
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument(
        "--url", help="the daemon's HTTP address (default: VOXHUB_URL, else from http.host/http.port)"
    )
    remote.add_argument("--api-key", help="an API key (default: VOXHUB_API_KEY)")
    job = commands.add_parser("job", parents=[common], help="long-form jobs: submit, list, status, cancel, fetch",
                              description="Long-form jobs (a book, a long text) run by the daemon: they survive a "
                              "restart and report progress.")  # fmt: skip
    actions = job.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    submit = actions.add_parser("submit", parents=[common, remote], help="submit a text, Markdown or EPUB file",
                                description="Submit FILE (.txt, .md = chapters by heading, .epub = chapters) "
                                "and wait for its audio with a progress bar.")  # fmt: skip
    submit.add_argument("file", metavar="FILE", help="the text to speak ('-' reads standard input)")
    submit.add_argument("--voice", help="voice name (default: voices.default)")
    submit.add_argument(
        "-o", "--output", metavar="OUT", help="where to write the audio (its extension picks the format)"
    )
    submit.add_argument(
        "--format", choices=JOB_FORMATS, help="m4b (chapter marks, default), zip (a file per chapter), ..."
    )
    submit.add_argument("--speed", type=speed_arg, default=1.0,
                        help=f"speaking rate, {MIN_SPEED}-{MAX_SPEED} (default 1.0)")  # fmt: skip
    submit.add_argument("--webhook", metavar="URL", help="POST a signed event to URL when the job ends")
    submit.add_argument("--detach", action="store_true", help="print the job's id and return at once")
    submit.set_defaults(func=cmd_submit)
    jlist = actions.add_parser("list", parents=[common, remote], help="list jobs, newest first",
                               description="List jobs: id, state, progress.")  # fmt: skip
    jlist.add_argument("--json", action="store_true", help="print JSON instead of a table")
    jlist.set_defaults(func=cmd_list)
    status = actions.add_parser("status", parents=[common, remote], help="one job's state and progress",
                                description="Show job ID: state, chunks done, audio so far, ETA, error.")  # fmt: skip
    status.add_argument("id", metavar="ID", help="the job's id")
    status.set_defaults(func=cmd_status)
    cancel = actions.add_parser("cancel", parents=[common, remote], help="cancel a job",
                                description="Cancel job ID if it is still running (its finished chunks are kept); delete it if it has ended.")  # fmt: skip
    cancel.add_argument("id", metavar="ID", help="the job's id")
    cancel.set_defaults(func=cmd_cancel)
    fetch = actions.add_parser("fetch", parents=[common, remote], help="download a finished job's audio",
                               description="Write finished job ID's audio to OUT.")  # fmt: skip
    fetch.add_argument("id", metavar="ID", help="the job's id")
    fetch.add_argument("-o", "--output", metavar="OUT", required=True, help="where to write the audio")
    fetch.add_argument("--format", choices=JOB_FORMATS, help="another format than the job's (e.g. zip)")
    fetch.set_defaults(func=cmd_fetch)


class CliError(Exception):
    """A message for the user; exit code 1."""


def _base(settings: Settings, args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    url = args.url or os.environ.get("VOXHUB_URL")
    if not url:
        host = settings.http.host if settings.http.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        url = f"http://{host}:{settings.http.port}"
    key = args.api_key or os.environ.get("VOXHUB_API_KEY")
    return url.rstrip("/"), ({"Authorization": f"Bearer {key}"} if key else {})


async def _call(
    settings: Settings, args: argparse.Namespace, method: str, path: str, body: Any = None
) -> Any:
    base, headers = _base(settings, args)
    try:
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.request(method, base + path, json=body) as response,
        ):
            data = await response.read()
            if response.status >= 400:
                try:
                    message = json.loads(data)["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = data.decode(errors="replace")[:200]
                raise CliError(f"{method} {path}: {response.status}: {message}")
            return json.loads(data) if response.content_type == "application/json" else data
    except aiohttp.ClientConnectionError:
        raise CliError(
            f"no voxhub daemon answers at {base}: start one with `voxhub serve`, or pass --url"
        ) from None


def _line(job: dict[str, Any]) -> str:
    eta = f", ETA {job['eta_s']:.0f} s" if job.get("eta_s") is not None else ""
    error = f" ({job['error']})" if job.get("error") else ""
    return (f"{job['id']}  {job['state']:<9} {job['chunks_done']}/{job['chunks_total']} chunks, "
            f"{job['audio_seconds']:.1f} s of audio{eta}{error}")  # fmt: skip


def _bar(job: dict[str, Any]) -> None:
    width = 30
    filled = int(width * job["progress"])
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {_line(job)}   ")
    sys.stderr.flush()


async def _follow(settings: Settings, args: argparse.Namespace, job_id: str) -> dict[str, Any]:
    """Show the progress bar from the job's SSE events until it ends; returns the last status."""
    base, headers = _base(settings, args)
    job: dict[str, Any] = {}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(headers=headers, timeout=timeout) as session,
        session.get(f"{base}/v1/jobs/{job_id}/events") as response,
    ):
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data:"):
                job = json.loads(line[5:])
                _bar(job)
    sys.stderr.write("\n")
    return job


def _write(path: str, data: bytes) -> None:
    if path == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(path).write_bytes(data)


async def cmd_submit(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    kind = "text" if args.file == "-" else input_format_of(path)
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else path.read_bytes()
    except OSError as exc:
        print(f"voxhub: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    text = base64.b64encode(raw).decode() if kind == "epub" else raw.decode("utf-8", errors="replace")
    fmt = args.format or (Path(args.output).suffix.lstrip(".").lower() if args.output else "") or "m4b"
    if fmt not in JOB_FORMATS:
        fmt = "m4b"
    body = {"input": text, "input_format": kind, "voice": args.voice, "format": fmt, "speed": args.speed,
            "webhook": args.webhook}  # fmt: skip
    try:
        job = await _call(
            settings, args, "POST", "/v1/jobs", {k: v for k, v in body.items() if v is not None}
        )
        if args.detach:
            print(job["id"])
            return 0
        print(f"job {job['id']}: {job['chunks_total']} chunks", file=sys.stderr)
        final = await _follow(settings, args, job["id"])
        if final.get("state") != "done":
            print(f"voxhub: job {job['id']} {final.get('state')}: {final.get('error')}", file=sys.stderr)
            return 1
        if args.output:
            _write(args.output, await _call(settings, args, "GET", f"/v1/jobs/{job['id']}/audio"))
            print(f"wrote {args.output}", file=sys.stderr)
        return 0
    except CliError as exc:
        print(f"voxhub: {exc}", file=sys.stderr)
        return 1


async def _simple(settings: Settings, args: argparse.Namespace, method: str, path: str) -> Any:
    try:
        return await _call(settings, args, method, path)
    except CliError as exc:
        print(f"voxhub: {exc}", file=sys.stderr)
        return None


async def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    listing = await _simple(settings, args, "GET", "/v1/jobs")
    if listing is None:
        return 1
    print(
        json.dumps(listing["data"], indent=2) if args.json else "\n".join(_line(j) for j in listing["data"])
    )
    return 0


async def _one_job(method: str, settings: Settings, args: argparse.Namespace) -> int:
    """`job status` (GET) and `job cancel` (DELETE): the job's one-line state afterwards."""
    job = await _simple(settings, args, method, f"/v1/jobs/{args.id}")
    if job is None:
        return 1
    print(_line(job))
    return 0


async def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    return await _one_job("GET", settings, args)


async def cmd_cancel(settings: Settings, args: argparse.Namespace) -> int:
    return await _one_job("DELETE", settings, args)


async def cmd_fetch(settings: Settings, args: argparse.Namespace) -> int:
    query = f"?format={args.format}" if args.format else ""
    data = await _simple(settings, args, "GET", f"/v1/jobs/{args.id}/audio{query}")
    if data is None:
        return 1
    _write(args.output, data)
    return 0
