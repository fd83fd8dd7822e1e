"""The Discord adapter: the real discord.py client inside the real daemon, against a local Discord stand-in
(REST routes and gateway): command registration, replies with audio files, the voice library commands,
attachment checks, and start-up with a bad token. Voice channel playback: test_discord_voice.py."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hub.quality.measures import word_error_rate
from tests.conftest import FAKE_ONLY, Daemon, decode, start_daemon
from tests.discord_standin import GUILDS, Standin
from tests.discord_standin.world import ALICE, BOB
from tests.discord_support import (
    discord_env,
    running_bot,
    speech,
    start_standin,
    wait_ready,
    wav_bytes,
)

FIRST, SECOND = GUILDS
PASSAGE = (
    "My voice is my passport. Please verify me, and remember that the kitchen lights go off at ten tonight."
)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Standin, Path]]:
    standin, ca = start_standin(tmp_path_factory.mktemp("discord-standin"))
    yield standin, ca
    standin.stop()


@pytest.fixture(scope="module")
def bot(standin: tuple[Standin, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    """The daemon on the offline Piper voice with the Discord adapter logged in to the stand-in."""
    server, ca = standin
    daemon = start_daemon(
        tmp_path_factory.mktemp("discord-daemon"), env=discord_env(server, ca, max_clip_mb="2")
    )
    server.daemon = daemon  # type: ignore[attr-defined]
    wait_ready(server, daemon)
    yield server
    daemon.stop()


def _daemon(server: Standin) -> Daemon:
    return server.daemon  # type: ignore[attr-defined,no-any-return]


def test_commands_are_registered_in_each_configured_guild(bot: Standin) -> None:
    for guild in GUILDS:
        names = {c["name"]: c for c in bot.registered[guild.id]}
        assert set(names) == {"say", "voice", "stop", "leave"}
        say = {o["name"]: o for o in names["say"]["options"]}
        assert say["text"]["required"] and not say["voice"].get("required", False)
        assert say["voice"]["autocomplete"] is True
        subs = {o["name"] for o in names["voice"]["options"]}
        assert subs == {"list", "enroll", "check", "remove", "use"}
    assert None not in bot.registered  # guild_ids given: nothing registered globally


def test_say_outside_voice_replies_with_an_ogg_opus_file_that_speaks_the_text(
    bot: Standin, transcriber: object
) -> None:
    text = "The garden gate is open, and the dog is out in the street."
    interaction = bot.command(FIRST, BOB, "say", {"text": text})
    reply = bot.final_reply(interaction)
    deferred = bot.replies_to(interaction)[0]
    assert deferred.body["type"] == 5  # deferred first, well within Discord's 3 s
    assert deferred.at - bot.interactions[interaction] < 3.0
    assert "en_US-joe-medium" in reply.content
    ((filename, data),) = reply.files.values()
    assert filename.endswith(".ogg") and data[:4] == b"OggS"
    samples, rate = decode(data)
    assert 1.5 < len(samples) / rate < 8
    heard = transcriber.transcribe(samples, rate)  # type: ignore[attr-defined]
    # Two slips of Whisper base over Opus at 32 kbit/s are tolerated (as the quality tests do, WER <= 0.15); silence, garbage or a cut-off are not.
    assert word_error_rate(text, heard.text) <= 2 / 13, heard.text


def test_say_with_an_unknown_voice_answers_with_close_matches_and_nothing_else(bot: Standin) -> None:
    interaction = bot.command(FIRST, BOB, "say", {"text": "Hello there.", "voice": "en_US-joe-mediun"})
    reply = bot.final_reply(interaction)
    assert reply.ephemeral and "en_US-joe-medium" in reply.content and "no voice" in reply.content
    assert len(bot.replies_to(interaction)) == 1


def test_say_that_is_too_long_is_refused(bot: Standin) -> None:
    interaction = bot.command(FIRST, BOB, "say", {"text": "la " * 600})
    reply = bot.final_reply(interaction)
    assert reply.ephemeral and "limit is 1000" in reply.content


def test_enroll_from_an_attachment_stores_the_voice_and_reports_its_quality(bot: Standin) -> None:
    clip = speech(_daemon(bot).url, PASSAGE)
    attachment = bot.attach("mum.wav", clip, "audio/wav")
    interaction = bot.command(
        FIRST, ALICE, "voice", {"name": "mum", "clip": ("attachment", attachment), "consent": True}, "enroll"
    )
    reply = bot.final_reply(interaction, timeout=120)
    assert "mum" in reply.content, reply.body
    (embed,) = reply.embeds
    assert embed["title"].startswith(("✅", "⚠️")) and "enrolled mum" in embed["title"]
    measured = next(f["value"] for f in embed["fields"] if f["name"] == "measured")
    assert "SNR" in measured and "speech" in measured
    listing = bot.final_reply(bot.command(FIRST, BOB, "voice", {}, "list"))
    assert "mum" in next(f["value"] for f in listing.embeds[0]["fields"] if f["name"] == "cloned")
    again = bot.command(
        FIRST, ALICE, "voice", {"name": "mum", "clip": ("attachment", attachment), "consent": True}, "enroll"
    )
    assert "exists already" in bot.final_reply(again, timeout=120).content


def test_enroll_of_silence_is_rejected_with_the_reason_and_stores_nothing(bot: Standin) -> None:
    silence = wav_bytes(np.zeros(16000 * 6, dtype=np.float32), 16000)
    attachment = bot.attach("quiet.wav", silence, "audio/wav")
    interaction = bot.command(
        FIRST,
        ALICE,
        "voice",
        {"name": "quiet", "clip": ("attachment", attachment), "consent": True},
        "enroll",
    )
    reply = bot.final_reply(interaction, timeout=120)
    assert "nothing was stored" in reply.content
    assert reply.embeds and reply.embeds[0]["title"].startswith("❌")
    listing = bot.final_reply(bot.command(FIRST, BOB, "voice", {}, "list"))
    assert "quiet" not in str(listing.embeds)


def test_enroll_without_consent_is_refused_saying_how(bot: Standin) -> None:
    attachment = bot.attach("dad.wav", speech(_daemon(bot).url, PASSAGE), "audio/wav")
    interaction = bot.command(
        FIRST, ALICE, "voice", {"name": "dad", "clip": ("attachment", attachment)}, "enroll"
    )
    reply = bot.final_reply(interaction, timeout=120)
    assert "needs its owner's permission" in reply.content and "consent: True" in reply.content, reply.content
    listing = bot.final_reply(bot.command(FIRST, BOB, "voice", {}, "list"))
    assert "dad" not in str(listing.embeds)


def test_the_consent_is_recorded_with_the_discord_user(bot: Standin) -> None:
    attachment = bot.attach("gran.wav", speech(_daemon(bot).url, PASSAGE), "audio/wav")
    enroll = {"name": "gran", "clip": ("attachment", attachment), "consent": True}
    bot.final_reply(bot.command(FIRST, ALICE, "voice", enroll, "enroll"), timeout=120)
    with urllib.request.urlopen(f"{_daemon(bot).api}/voices/gran", timeout=30) as response:
        consent = json.loads(response.read())["consent"]
    assert (consent["surface"], consent["user"], consent["confirmed"]) == ("discord", str(ALICE.id), True)


def test_enroll_needs_manage_server(bot: Standin) -> None:
    attachment = bot.attach("x.wav", speech(_daemon(bot).url, "Hello."), "audio/wav")
    interaction = bot.command(
        FIRST, BOB, "voice", {"name": "sneaky", "clip": ("attachment", attachment), "consent": True}, "enroll"
    )
    reply = bot.final_reply(interaction)
    assert reply.ephemeral and "Manage Server" in reply.content
    assert not any(str(attachment) in path for path in bot.fetched)


@pytest.mark.parametrize(
    ("filename", "content_type", "declared", "expected"),
    [
        ("big.wav", "audio/wav", 50 << 20, "limit is 2 MB"),
        ("page.wav", "text/html", None, "not an audio file"),
        ("tool.exe", "audio/wav", None, "not an audio file"),
    ],
)
def test_forged_or_oversized_attachments_are_refused_before_download(
    bot: Standin, filename: str, content_type: str, declared: int | None, expected: str
) -> None:
    attachment = bot.attach(filename, b"RIFF" + bytes(1000), content_type, declared_size=declared)
    for sub, options in (("check", {}), ("enroll", {"name": "forged"})):
        interaction = bot.command(FIRST, ALICE, "voice", {**options, "clip": ("attachment", attachment)}, sub)
        reply = bot.final_reply(interaction)
        assert reply.ephemeral and expected in reply.content, reply.content
    assert not any(f"/attachments/{attachment}/" in path for path in bot.fetched)


def test_check_reports_on_a_clip_without_storing_it(bot: Standin) -> None:
    attachment = bot.attach("sample.ogg", speech(_daemon(bot).url, PASSAGE, fmt="opus"), "audio/ogg")
    reply = bot.final_reply(
        bot.command(FIRST, BOB, "voice", {"clip": ("attachment", attachment)}, "check"), 120
    )
    (embed,) = reply.embeds
    assert embed["title"].split(":")[1].split()[0] in ("accept", "warn")
    assert any(f"/attachments/{attachment}/" in path for path in bot.fetched)
    listing = bot.final_reply(bot.command(FIRST, BOB, "voice", {}, "list"))
    assert "sample" not in str(listing.embeds)


def test_the_voice_option_autocompletes_from_the_library(bot: Standin) -> None:
    interaction = bot.command(FIRST, BOB, "say", {"text": "hi", "voice": "joe"}, focused="voice")
    (callback,) = bot.wait(lambda: bot.replies_to(interaction), 10, "autocomplete choices")
    assert callback.body["type"] == 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    assert {c["value"] for c in callback.body["data"]["choices"]} == {"en_US-joe-medium"}


def test_voice_use_remembers_a_members_voice_and_refuses_unknown_ones(bot: Standin) -> None:
    reply = bot.final_reply(bot.command(FIRST, BOB, "voice", {"name": "en_US-joe-medum"}, "use"))
    assert reply.ephemeral and "en_US-joe-medium" in reply.content and "no voice" in reply.content
    reply = bot.final_reply(bot.command(FIRST, BOB, "voice", {"name": "en_US-joe-medium"}, "use"))
    assert "Your /say voice is now **en_US-joe-medium**" in reply.content
    listing = bot.final_reply(bot.command(FIRST, BOB, "voice", {}, "list"))
    assert "your voice: en_US-joe-medium" in listing.embeds[0]["footer"]["text"]


def test_remove_deletes_a_cloned_voice_for_managers_only(bot: Standin) -> None:
    attachment = bot.attach("temp.wav", speech(_daemon(bot).url, PASSAGE), "audio/wav")
    enrolled = bot.command(
        FIRST, ALICE, "voice", {"name": "temp", "clip": ("attachment", attachment), "consent": True}, "enroll"
    )
    assert "temp" in bot.final_reply(enrolled, 120).content
    refused = bot.final_reply(bot.command(FIRST, BOB, "voice", {"name": "temp"}, "remove"))
    assert refused.ephemeral and "Manage Server" in refused.content
    removed = bot.final_reply(bot.command(FIRST, ALICE, "voice", {"name": "temp"}, "remove"))
    assert "Removed the voice **temp**" in removed.content
    listing = bot.final_reply(bot.command(FIRST, BOB, "voice", {}, "list"))
    assert "temp" not in str(listing.embeds)


def test_a_refused_token_is_one_clear_log_line_and_the_daemon_keeps_serving(
    standin: tuple[Standin, Path], tmp_path: Path
) -> None:
    server, ca = standin
    env = {**discord_env(server, ca, token="wrong-token"), **FAKE_ONLY}
    daemon = start_daemon(tmp_path / "bad-token", env=env)
    try:
        deadline = time.monotonic() + 20
        while "token was refused" not in daemon.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        lines = [line for line in daemon.log().splitlines() if "token was refused" in line]
        assert len(lines) == 1 and "VOXHUB_ADAPTERS__DISCORD__TOKEN" in lines[0]
        with urllib.request.urlopen(f"{daemon.url}/health", timeout=10) as response:
            assert response.status == 200
        assert daemon.proc.poll() is None
    finally:
        daemon.stop()


def test_an_empty_token_stops_start_up_with_a_configuration_error(
    standin: tuple[Standin, Path], tmp_path: Path
) -> None:
    server, ca = standin
    env = {**discord_env(server, ca, token=""), **FAKE_ONLY}
    with pytest.raises(AssertionError, match=r"adapters\.discord\.token is empty"):
        start_daemon(tmp_path / "no-token", env=env, timeout=30)


def test_attachments_are_fetched_through_the_hubs_guarded_fetch(tmp_path: Path) -> None:
    """Without enroll.allow_private_urls the hub refuses the stand-in's loopback URL: no side door."""
    guarded = {**FAKE_ONLY, "VOXHUB_ENROLL__ALLOW_PRIVATE_URLS": "false"}
    with running_bot(tmp_path, guarded) as (server, _):
        attachment = server.attach(
            "clip.wav", wav_bytes(np.zeros(16000, dtype=np.float32), 16000), "audio/wav"
        )
        reply = server.final_reply(
            server.command(FIRST, BOB, "voice", {"clip": ("attachment", attachment)}, "check")
        )
        assert "loopback" in reply.content and "public addresses" in reply.content
        assert server.fetched == []
