"""Slack adapter benchmark on the offline Piper voice: slash command to ack, and to the uploaded file.

Starts the local Slack stand-in (tests/slack_standin.py) and the real daemon with the Slack adapter in
HTTP mode, then times signed `/say` requests posted to /slack/events: the ack (the HTTP response Slack
waits at most 3 s for) and the moment `files.completeUploadExternal` arrives at the stand-in (the clip is in
the channel). The anchor is the same daemon's HTTP API (`POST /v1/audio/speech`, mp3, whole response) for
the same kind of text, alternating with the Slack requests; "cached" repeats a phrase already spoken.

    python bench/slack_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import start_daemon  # noqa: E402
from tests.slack_standin import BOT_TOKEN, SIGNING_SECRET, SlackStandIn, post_command, slash_command  # noqa: E402

WORDS = ["north", "south", "east", "west", "upper", "lower", "green", "blue", "red", "small", "large", "old"]


def phrase(i: int, kind: str) -> str:
    return f"The {WORDS[i % 12]} {WORDS[(i // 12) % 12]} {kind} door is open."


def http_mp3(url: str, text: str) -> float:
    """Seconds for one whole mp3 over the HTTP API (Slack needs the whole file too)."""
    body = json.dumps({"model": "tts-1", "input": text, "response_format": "mp3"}).encode()
    request = urllib.request.Request(f"{url}/v1/audio/speech", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return time.perf_counter() - started


def slack_say(standin: SlackStandIn, url: str, text: str) -> tuple[float, float]:
    """(ack seconds, upload-complete seconds) of one signed /say."""
    seen = len(standin.uploads)
    started = time.perf_counter()
    reply = post_command(f"{url}/slack/events", slash_command(standin, "/say", text))
    acked = time.perf_counter() - started
    assert reply.status == 200, reply
    standin.wait_for(lambda: any(text in u.initial_comment for u in standin.uploads[seen:]), timeout=120)
    return acked, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    standin = SlackStandIn().start()
    env = {"VOXHUB_ADAPTERS__SLACK__ENABLED": "true", "VOXHUB_ADAPTERS__SLACK__BOT_TOKEN": BOT_TOKEN,
           "VOXHUB_ADAPTERS__SLACK__SIGNING_SECRET": SIGNING_SECRET,
           "VOXHUB_ADAPTERS__SLACK__API_URL": standin.api_url, "VOXHUB_ENGINES__PIPER__WORKERS": "1"}  # fmt: skip
    with tempfile.TemporaryDirectory() as data:
        daemon = start_daemon(Path(data) / "d", env=env)
        try:
            http_mp3(daemon.url, "Warm up the engine.")
            slack_say(standin, daemon.url, "Warm up the adapter.")
            rows: dict[str, list[float]] = {
                k: [] for k in ("ack", "upload", "http", "ack_c", "upload_c", "http_c")
            }
            for i in range(args.rounds):
                ack, upload = slack_say(standin, daemon.url, phrase(i, "slack"))
                rows["ack"].append(ack)
                rows["upload"].append(upload)
                rows["http"].append(http_mp3(daemon.url, phrase(i, "http")))
                ack, upload = slack_say(standin, daemon.url, phrase(i, "slack"))  # now cached
                rows["ack_c"].append(ack)
                rows["upload_c"].append(upload)
                rows["http_c"].append(http_mp3(daemon.url, phrase(i, "http")))
        finally:
            daemon.stop()
            standin.stop()
    med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
    print(f"rounds: {args.rounds} (medians, ms)")
    for label, suffix in (("uncached", ""), ("cached", "_c")):
        ack, upload, http = med["ack" + suffix], med["upload" + suffix], med["http" + suffix]
        print(f"{label:9} /say ack {ack:7.1f} | /say upload complete {upload:7.1f} | "
              f"HTTP mp3 {http:7.1f} | upload/HTTP {upload / http:5.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
