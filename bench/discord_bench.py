"""Discord adapter benchmark on the offline Piper voice: interaction → first voice packet.

Starts the local Discord stand-in (tests/discord_standin: REST, gateway, wss voice websocket, UDP) and the
real daemon with the Discord adapter logged in to it, puts the bot in a voice channel with one warm-up
/say, then measures, per round and alternating with the anchor:
- Discord: from the stand-in dispatching INTERACTION_CREATE for `/say` to the first encrypted RTP packet
  arriving on its UDP socket (defer, voice lookup, synthesis, resampling, Opus encoding, encryption);
- anchor: the HTTP API's time to the first audio byte (`response_format: pcm`) for the same kind of text
  in the same daemon, same voice and engine worker.
"Uncached" texts are new each round; "cached" repeats one (voxhub's synthesis cache).

    python bench/discord_bench.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.timing import http_speech  # noqa: E402
from tests.conftest import start_daemon  # noqa: E402
from tests.discord_standin import GUILDS, Standin  # noqa: E402
from tests.discord_standin.world import ALICE  # noqa: E402
from tests.discord_support import NO_OPUS, discord_env, opus_loaded, start_standin, wait_ready  # noqa: E402

WORDS = ["north", "south", "east", "west", "upper", "lower", "green", "blue", "red", "small", "large", "old"]
GUILD = GUILDS[0]


def phrase(i: int, kind: str) -> str:
    """A one-sentence announcement no earlier request has spoken (for a given `i` and `kind`)."""
    return f"The {WORDS[i % 12]} {WORDS[(i // 12) % 12]} {kind} door is open."


def http_first_audio(url: str, text: str) -> float:
    """Seconds to the first byte of raw PCM audio over HTTP."""
    return http_speech(url, text, "pcm")[0]


def quiet(standin: Standin, seconds: float = 0.6) -> None:
    """Wait until the bot has stopped sending voice packets (so the next /say does not queue)."""
    while True:
        count = len(standin.packets(GUILD))
        time.sleep(seconds)
        if len(standin.packets(GUILD)) == count:
            return


def discord_first_packet(standin: Standin, text: str) -> float:
    """Seconds from dispatching /say to the first voice packet of its speech."""
    since = len(standin.packets(GUILD))
    interaction = standin.command(GUILD, ALICE, "say", {"text": text})
    standin.wait(lambda: len(standin.packets(GUILD)) > since, 60, "the first voice packet")
    first = standin.packets(GUILD)[since].at - standin.interactions[interaction]
    quiet(standin)
    return first


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not opus_loaded():
        print(NO_OPUS, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        standin, ca = start_standin(Path(tmp) / "standin")
        daemon = start_daemon(Path(tmp) / "daemon", env=discord_env(standin, ca))
        try:
            wait_ready(standin, daemon)
            discord_first_packet(standin, "Warming up the voice connection.")  # joins the channel
            http_first_audio(daemon.url, "Warming up the HTTP path.")
            results: dict[str, list[float]] = {"discord new": [], "http new": [], "discord cached": [],
                                               "http cached": []}  # fmt: skip
            cached_discord, cached_http = phrase(99, "garage"), phrase(98, "garage")
            discord_first_packet(standin, cached_discord)
            http_first_audio(daemon.url, cached_http)
            for i in range(args.rounds):
                # Alternate the order so drift on the shared cores hits both sides alike.
                pairs = [("discord new", lambda i=i: discord_first_packet(standin, phrase(i, "front"))),
                         ("http new", lambda i=i: http_first_audio(daemon.url, phrase(i, "back"))),
                         ("discord cached", lambda: discord_first_packet(standin, cached_discord)),
                         ("http cached", lambda: http_first_audio(daemon.url, cached_http))]  # fmt: skip
                for name, measure in pairs if i % 2 == 0 else pairs[::-1]:
                    results[name].append(measure())
        finally:
            daemon.stop()
            standin.stop()
    print(f"rounds: {args.rounds} (medians; min-max)")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        print(
            f"  {name:15s} {medians[name] * 1000:7.1f} ms  ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"
        )
    for kind in ("new", "cached"):
        added = (medians[f"discord {kind}"] - medians[f"http {kind}"]) * 1000
        print(f"  {kind}: the adapter adds {added:+.1f} ms to the HTTP API's first audio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
