"""MQTT adapter benchmark on the offline Piper voice: command-to-audio latency and announcement throughput.

Starts a real mosquitto on a free port and the real daemon with the MQTT adapter, then measures, with the
HTTP API of the same daemon as the anchor (same voice, same engine worker, same kind of text):
- latency from publishing `voxhub/say` to the audio message arriving on `voxhub/audio/<target>`, for a
  new (uncached) and a repeated (cached) one-sentence phrase, beside HTTP's time to first audio byte;
- throughput of 50 announcements published back to back, beside the same 50 kinds of request sent one
  after another over HTTP.

    python bench/mqtt_bench.py [--rounds 5] [--announcements 50] [--nodelay]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.timing import http_speech  # noqa: E402
from tests.conftest import start_daemon  # noqa: E402
from tests.mqtt_support import MOSQUITTO, NO_BROKER, Broker, Probe, mqtt_env, wait_online  # noqa: E402

WORDS = ["north", "south", "east", "west", "upper", "lower", "green", "blue", "red", "small", "large", "old"]


def phrase(i: int, kind: str) -> str:
    """A one-sentence announcement that no earlier request has spoken (for a given `i` and `kind`)."""
    tag = f"{WORDS[i % 12]} {WORDS[(i // 12) % 12]}"
    return f"The {tag} {kind} door is open."


def http_first_byte(url: str, text: str) -> tuple[float, float]:
    """(time to first audio byte, total time) of one wav request over HTTP."""
    return http_speech(url, text, "wav")[:2]


def mqtt_latency(probe: Probe, text: str, target: str) -> float:
    """Seconds from publishing the command to the audio message arriving."""
    since = len(probe.messages)
    started = time.perf_counter()
    probe.publish("voxhub/say", json.dumps({"text": text, "target": target}))
    audio = probe.topic(f"voxhub/audio/{target}", timeout=120, since=since)
    return audio.at - started


def throughput(probe: Probe, url: str, count: int) -> dict[str, float]:
    """50 announcements queued at once over MQTT vs. the same number sent in turn over HTTP."""

    def http_turns(indices: range) -> float:
        started = time.perf_counter()
        for i in indices:
            http_first_byte(url, phrase(i, "garage"))
        return time.perf_counter() - started

    # The HTTP anchor runs half before and half after, so load drift hits both alike.
    http_wall = http_turns(range(count // 2))

    since = len(probe.messages)
    ids = [uuid.uuid4().hex for _ in range(count)]
    started = time.perf_counter()
    for i, command_id in enumerate(ids):
        body = {"id": command_id, "text": phrase(i, "cellar"), "target": "bulk"}
        probe.client.publish("voxhub/say", json.dumps(body), qos=1)
    published = time.perf_counter() - started
    results = []
    for _ in range(count):
        message = probe.wait_for(
            lambda m: m.topic == "voxhub/say/result" and m not in results, timeout=300, since=since
        )
        results.append(message)
    wall = results[-1].at - started
    http_wall += http_turns(range(count // 2, count))
    order = [json.loads(m.payload)["id"] for m in results]
    failed = [json.loads(m.payload) for m in results if json.loads(m.payload)["status"] != "ok"]
    assert not failed, failed[:3]
    audio_s = sum(json.loads(m.payload)["duration_s"] for m in results)
    return {"http_wall": http_wall, "mqtt_wall": wall, "publish_s": published, "in_order": float(order == ids),
            "audio_s": audio_s}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--announcements", type=int, default=50)
    parser.add_argument(
        "--nodelay",
        action="store_true",
        help="run mosquitto with set_tcp_nodelay true (default: its default, false)",
    )
    args = parser.parse_args()
    if MOSQUITTO is None:
        raise SystemExit(NO_BROKER)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp) / "broker", nodelay=args.nodelay).start()
        daemon = start_daemon(Path(tmp) / "data", env=mqtt_env(broker))
        probe = None
        try:
            wait_online(broker.port)
            probe = Probe(broker.port, ("voxhub/audio/#", "voxhub/say/result"))
            # One request each way first: onnxruntime allocates for new shapes on the first few.
            http_first_byte(daemon.url, phrase(999, "warm"))
            mqtt_latency(probe, phrase(998, "warm"), "warm")
            rows: dict[str, list[float]] = {k: [] for k in ("http_miss", "mqtt_miss", "http_hit", "mqtt_hit")}
            for i in range(args.rounds):  # alternate, so load drift hits both alike
                rows["http_miss"].append(http_first_byte(daemon.url, phrase(i, "front"))[0])
                rows["mqtt_miss"].append(mqtt_latency(probe, phrase(i, "back"), "lat"))
                rows["http_hit"].append(http_first_byte(daemon.url, phrase(i, "front"))[0])
                rows["mqtt_hit"].append(mqtt_latency(probe, phrase(i, "back"), "lat"))
            med = {k: statistics.median(v) for k, v in rows.items()}
            bulk = throughput(probe, daemon.url, args.announcements)
        finally:
            if probe is not None:
                probe.close()
            daemon.stop()
            broker.stop()
    n = args.announcements
    print(f"rounds: {args.rounds} (medians); announcements: {n}; mosquitto set_tcp_nodelay: {args.nodelay}")
    print(f"uncached: MQTT command->audio {med['mqtt_miss'] * 1000:.0f} ms | HTTP first byte "
          f"{med['http_miss'] * 1000:.0f} ms | ratio {med['mqtt_miss'] / med['http_miss']:.2f}")  # fmt: skip
    print(f"cached:   MQTT command->audio {med['mqtt_hit'] * 1000:.1f} ms | HTTP first byte "
          f"{med['http_hit'] * 1000:.1f} ms | ratio {med['mqtt_hit'] / med['http_hit']:.2f}")  # fmt: skip
    print(f"throughput: MQTT {n} queued in {bulk['mqtt_wall']:.2f} s ({n / bulk['mqtt_wall']:.2f}/s, "
          f"published in {bulk['publish_s'] * 1000:.0f} ms, results in order: {bool(bulk['in_order'])}, "
          f"{bulk['audio_s']:.1f} s of audio, RTF {bulk['mqtt_wall'] / bulk['audio_s']:.3f}) | HTTP {n} in turn "
          f"{bulk['http_wall']:.2f} s | ratio {bulk['mqtt_wall'] / bulk['http_wall']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
