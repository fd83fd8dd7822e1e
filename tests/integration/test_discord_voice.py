"""Discord voice playback: the real discord.py client inside the real daemon joins the stand-in's voice
channel over a wss:// voice websocket (test CA), discovers its address over UDP and streams encrypted RTP,
which the stand-in decrypts and decodes back to audio for the ASR round trip."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.quality.measures import word_error_rate
from tests.conftest import FAKE_ONLY
from tests.discord_standin import GUILDS, Standin
from tests.discord_standin.world import ALICE, BOB, CAROL
from tests.discord_support import NO_OPUS, opus_loaded, pcm_48k_mono, running_bot

# Voice playback needs libopus (a system package); the other Discord tests run without it.
pytestmark = pytest.mark.skipif(not opus_loaded(), reason=NO_OPUS)

FIRST, SECOND = GUILDS


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standin]:
    """The daemon on the offline Piper voice, its bot logged in to the stand-in."""
    with running_bot(tmp_path_factory.mktemp("discord-voice"), idle_disconnect_s="600") as (standin, _):
        yield standin


def _speech_packets(
    bot: Standin, guild: object, since: int, quiet_s: float = 1.0, timeout: float = 60
) -> list:
    """The packets after `since`, once they have stopped coming for `quiet_s`."""
    bot.wait(lambda: len(bot.packets(guild)) > since, timeout, "the first voice packet")  # type: ignore[arg-type]
    while True:
        count = len(bot.packets(guild))  # type: ignore[arg-type]
        time.sleep(quiet_s)
        if len(bot.packets(guild)) == count:  # type: ignore[arg-type]
            return bot.packets(guild)[since:]  # type: ignore[arg-type]


def test_say_in_a_voice_channel_streams_opus_that_decodes_to_the_text(
    bot: Standin, transcriber: object
) -> None:
    text = "Dinner is ready. Please come to the kitchen."
    since = len(bot.packets(FIRST))
    interaction = bot.command(FIRST, ALICE, "say", {"text": text})
    reply = bot.final_reply(interaction)
    assert "Speaking as **en_US-joe-medium**" in reply.content
    packets = _speech_packets(bot, FIRST, since)
    session = bot.voice.by_guild[FIRST.id]
    assert (
        session.mode == "aead_xchacha20_poly1305_rtpsize"
        and session.dave_offered
        and session.dave_offered >= 1
    )
    assert bot.voice.bad_packets == 0
    assert all(len(p.pcm) == 3840 for p in packets)  # 20 ms of 48 kHz stereo each
    audio = pcm_48k_mono(packets)
    seconds = len(audio) / 48000
    assert 1.5 < seconds < 8, seconds
    heard = transcriber.transcribe(audio, 48000)  # type: ignore[attr-defined]
    assert word_error_rate(text, heard.text) <= 1 / 8, heard.text  # one slip of Whisper base at most
    joined = [r for r in bot.voice_requests if int(r["guild_id"]) == FIRST.id and r["channel_id"]]
    assert int(joined[-1]["channel_id"]) == FIRST.voice_channel and joined[-1]["self_deaf"]


LONG = " ".join(
    f"This is sentence number {n} of a long announcement that keeps going for a while." for n in range(1, 9)
)


def test_stop_mid_speech_silences_the_guild_within_a_second_and_drops_its_queue(bot: Standin) -> None:
    since = len(bot.packets(FIRST))
    bot.command(FIRST, ALICE, "say", {"text": LONG})
    bot.command(FIRST, ALICE, "say", {"text": "This one waits in the queue."})
    bot.wait(lambda: len(bot.packets(FIRST)) > since + 50, 60, "a second of speech")
    stop = bot.command(FIRST, ALICE, "stop")
    asked = bot.interactions[stop]
    reply = bot.final_reply(stop)
    assert "Stopped (2 request(s) dropped)" in reply.content
    time.sleep(2.0)
    after = [p for p in bot.packets(FIRST)[since:] if p.at > asked]
    assert after == [] or after[-1].at - asked < 1.0, after[-1].at - asked
    spoken = len(bot.packets(FIRST)) - since
    assert spoken * 0.02 < 20  # far less than the whole announcement (~40 s)


def test_two_guilds_speak_at_the_same_time(bot: Standin) -> None:
    before = {g.id: len(bot.packets(g)) for g in GUILDS}
    bot.command(FIRST, ALICE, "say", {"text": LONG[:160]})
    bot.command(SECOND, CAROL, "say", {"text": LONG[:160]})
    first, second = (_speech_packets(bot, g, before[g.id], quiet_s=1.5) for g in GUILDS)
    assert len(first) > 100 and len(second) > 100
    # Overlap: each guild's first packet arrived before the other guild's speech ended.
    assert first[0].at < second[-1].at and second[0].at < first[-1].at
    assert abs(first[0].at - second[0].at) < 2.0


def test_reconnects_after_the_voice_server_drops_the_connection(bot: Standin, transcriber: object) -> None:
    bot.final_reply(bot.command(FIRST, ALICE, "say", {"text": "Warming up."}))
    _speech_packets(bot, FIRST, 0)
    sessions = len(bot.voice.sessions)
    bot.drop_voice(FIRST)
    bot.wait(lambda: len(bot.voice.sessions) > sessions, 30, "a new voice session after the drop")
    since = len(bot.packets(FIRST))
    text = "The radio station is back on the air."
    asked = bot.interactions[bot.command(FIRST, ALICE, "say", {"text": text})]
    packets = _speech_packets(bot, FIRST, since)
    # discord.py's own reconnect can stall ~30 s (its UDP reader); the adapter starts over after 5 s.
    assert packets[0].at - asked < 10.0
    heard = transcriber.transcribe(pcm_48k_mono(packets), 48000)  # type: ignore[attr-defined]
    assert word_error_rate(text, heard.text) <= 1 / 8, heard.text  # one slip of Whisper base at most


def test_the_bot_leaves_when_its_channel_empties(bot: Standin) -> None:
    bot.final_reply(bot.command(SECOND, CAROL, "say", {"text": "Goodbye."}))
    _speech_packets(bot, SECOND, len(bot.packets(SECOND)) - 1 if bot.packets(SECOND) else 0)
    assert bot.bot_channel.get(SECOND.id) == SECOND.voice_channel
    bot.leave_voice(SECOND, CAROL)
    try:
        bot.wait(lambda: bot.bot_channel.get(SECOND.id, 0) is None, 10, "the bot leaving the empty channel")
    finally:
        bot.join_voice(SECOND, CAROL)


def test_say_moves_the_bot_to_the_callers_new_channel_and_leave_disconnects(bot: Standin) -> None:
    bot.final_reply(bot.command(FIRST, ALICE, "say", {"text": "Here first."}))
    _speech_packets(bot, FIRST, max(len(bot.packets(FIRST)) - 1, 0))
    # The bot's voice state reaches the gateway on its own schedule (a busy machine: after the packets).
    bot.wait(lambda: bot.bot_channel.get(FIRST.id) == FIRST.voice_channel, 10, "the bot in the first channel")
    bot.move_voice(FIRST, BOB, FIRST.voice_channel)  # someone stays behind, so the bot does not leave
    bot.move_voice(FIRST, ALICE, FIRST.lounge)
    try:
        since = len(bot.packets(FIRST))
        reply = bot.final_reply(bot.command(FIRST, ALICE, "say", {"text": "Now over here."}))
        assert f"<#{FIRST.lounge}>" in reply.content
        assert len(_speech_packets(bot, FIRST, since)) > 20
        bot.wait(
            lambda: bot.bot_channel.get(FIRST.id) == FIRST.lounge, 10, "the bot in the caller's new channel"
        )
        left = bot.final_reply(bot.command(FIRST, ALICE, "leave"))
        assert "Left the voice channel" in left.content
        bot.wait(lambda: bot.bot_channel.get(FIRST.id, 0) is None, 10, "the bot leaving")
        again = bot.final_reply(bot.command(FIRST, ALICE, "leave"))
        assert "not in a voice channel" in again.content
    finally:
        bot.move_voice(FIRST, BOB, None)
        bot.move_voice(FIRST, ALICE, FIRST.voice_channel)


def test_idle_bot_leaves_voice_after_idle_disconnect_s(tmp_path: Path) -> None:
    with running_bot(tmp_path, FAKE_ONLY, idle_disconnect_s="1.5") as (server, _):
        server.final_reply(server.command(FIRST, ALICE, "say", {"text": "Short."}))
        server.wait(lambda: server.packets(FIRST), 30, "speech")
        spoke = server.packets(FIRST)[-1].at
        server.wait(lambda: server.bot_channel.get(FIRST.id, 0) is None, 10, "the idle bot leaving")
        left = server.voice_requests[-1]["at"]
        assert 1.0 < left - spoke < 4.0
