"""The Slack adapter's parsing and settings, without Slack: what people type, and what admins configure."""

from __future__ import annotations

import pytest

from adapters.slack import SlackSettings
from adapters.slack.commands import parse_file_message, parse_say, plain_text, quality_report
from adapters.slack.files import ClipProblem, pick_clip, token_allowed
from hub.api import ConfigError


@pytest.mark.parametrize(
    ("text", "voice", "spoken"),
    [
        ("Hello there", None, "Hello there"),
        ("alice: Hello there", "alice", "Hello there"),
        ("alice:Hello", "alice", "Hello"),
        ("mum.v2: Dinner is ready", "mum.v2", "Dinner is ready"),
        ("Note : the meeting moved", None, "Note : the meeting moved"),
        ("https://example.com is down", None, "https://example.com is down"),
        ("alice:", None, "alice:"),
        (
            "Ask <@U0123|ann> &amp; <#C1|general> about <https://x.io|the docs>",
            None,
            "Ask ann & general about the docs",
        ),
    ],
)
def test_say_text_and_voice(text: str, voice: str | None, spoken: str) -> None:
    parsed = parse_say(text)
    assert (parsed.voice, parsed.text) == (voice, spoken)


def test_plain_text_drops_bare_ids_and_keeps_links() -> None:
    assert plain_text("<@U0123> see <https://a.example/b> &lt;now&gt;") == "see https://a.example/b <now>"


@pytest.mark.parametrize(
    ("text", "action", "name", "replace"),
    [
        ("<@UBOT> enroll alice", "enroll", "alice", False),
        ("enroll alice replace", "enroll", "alice", True),
        ("ENROLL", "enroll", "", False),
        ("check", "check", "", False),
    ],
)
def test_file_message_commands(text: str, action: str, name: str, replace: bool) -> None:
    command = parse_file_message(text)
    assert command is not None and (command.action, command.name, command.replace) == (action, name, replace)


def test_a_message_without_a_command_asks_for_nothing() -> None:
    assert parse_file_message("<@UBOT> nice weather") is None and parse_file_message("") is None


def test_clip_metadata_is_checked_before_any_download() -> None:
    big = {"name": "long.wav", "mimetype": "audio/wav", "size": 30 << 20, "url_private_download": "https://x"}
    with pytest.raises(ClipProblem, match=r"30\.0 MB, over the 20 MB limit"):
        pick_clip([big], 20 << 20)
    with pytest.raises(ClipProblem, match="not an audio file"):
        pick_clip([{"name": "a.png", "mimetype": "image/png", "size": 10}], 20 << 20)
    with pytest.raises(ClipProblem, match="attach an audio file"):
        pick_clip([], 20 << 20)
    voice_memo = {"name": "memo", "mimetype": "video/mp4", "filetype": "mp4", "size": 10, "url_private": "u"}
    assert pick_clip([{"mimetype": "image/png"}, voice_memo], 20 << 20) is voice_memo


def test_the_bot_token_only_goes_to_slack_or_the_configured_api() -> None:
    api = "https://slack.com/api/"
    assert token_allowed("https://files.slack.com/files-pri/T1-F1/download/a.mp3", api)
    assert not token_allowed("https://evil.example/files.slack.com/a.mp3", api)
    assert not token_allowed("https://slack.com.evil.example/a.mp3", api)
    assert token_allowed("http://127.0.0.1:5000/files/F1/a.wav", "http://127.0.0.1:5000/api/")


def test_quality_report_shows_verdict_numbers_and_advice() -> None:
    report = {"verdict": "warn", "score": 0.71, "metrics": {"duration_s": 8.04, "snr_db": 18.2, "peak_dbfs": None},
              "findings": [{"severity": "warn", "message": "some background noise: record somewhere quieter"}],
              "transcript": "hello there"}  # fmt: skip
    text = quality_report(report, "Voice `a` enrolled.")
    assert "*Verdict: warn* (score 0.71)" in text and "length 8.0 s" in text and "SNR 18 dB" in text
    assert "record somewhere quieter" in text and "“hello there”" in text


@pytest.mark.parametrize(
    ("keys", "fragment"),
    [
        ({"bot_token": ""}, "bot_token must be the app's Bot User OAuth Token"),
        ({"signing_secret": ""}, "signing_secret is empty"),
        ({"mode": "socket"}, "app_token must be an app-level token"),
        ({"audio_format": "wav"}, "use mp3 or opus"),
        ({"api_url": "https://slack.com/api"}, "ending in '/'"),
        ({"max_chars": 0}, "max_chars must be positive"),
    ],
)
def test_bad_settings_name_the_key_and_the_fix(keys: dict[str, object], fragment: str) -> None:
    base: dict[str, object] = {"bot_token": "xoxb-1", "signing_secret": "s"}
    with pytest.raises(ConfigError, match=fragment):
        SlackSettings(**{**base, **keys}).validate()  # type: ignore[arg-type]


def test_socket_mode_is_the_default_when_an_app_token_is_set_and_secrets_stay_out_of_repr() -> None:
    settings = SlackSettings(bot_token="xoxb-secret", app_token="xapp-secret").validate()
    assert settings.socket_mode and "secret" not in repr(settings)
    assert not SlackSettings(bot_token="xoxb-1", signing_secret="s").validate().socket_mode
