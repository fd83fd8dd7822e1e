"""The Slack adapter in the real daemon, driven the way Slack drives it: signed requests to /slack/events
(and a Socket Mode websocket), with Bolt and slack-sdk unmodified talking to a local Slack stand-in."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import FAKE_ONLY, REPO, Daemon, decode, start_daemon, words
from tests.integration.test_http_openai import get_json
from tests.slack_standin import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackStandIn,
    event_callback,
    post_command,
    post_event,
    post_signed,
    slash_command,
)

DEFAULT_VOICE = "en_US-joe-medium"
PASSAGE = (
    "My voice is my passport. Please verify me, and remember that the kitchen lights go off at ten tonight. "
    "The weather tomorrow will be sunny with a light breeze from the west."
)


def slack_env(standin: SlackStandIn, **keys: str) -> dict[str, str]:
    env = {"VOXHUB_ADAPTERS__SLACK__ENABLED": "true", "VOXHUB_ADAPTERS__SLACK__BOT_TOKEN": BOT_TOKEN,
           "VOXHUB_ADAPTERS__SLACK__SIGNING_SECRET": SIGNING_SECRET,
           "VOXHUB_ADAPTERS__SLACK__API_URL": standin.api_url,
           # shared clips come through the hub's guarded fetch: the loopback stand-in must be allowed
           "VOXHUB_ENROLL__ALLOWED_HOSTS": urllib.parse.urlsplit(standin.api_url).netloc}  # fmt: skip
    env.update({f"VOXHUB_ADAPTERS__SLACK__{k.upper()}": v for k, v in keys.items()})
    return env


@pytest.fixture(scope="module")
def standin() -> Iterator[SlackStandIn]:
    fake = SlackStandIn().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def daemon(standin: SlackStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """Piper (the default voice) plus the fake cloning engine; the Slack adapter in HTTP mode; debug logs."""
    env = {
        **slack_env(standin, mode="http"),
        "VOXHUB_ENGINES__FAKE__ENABLED": "true",
        "VOXHUB_LOG__LEVEL": "debug",
    }
    daemon = start_daemon(tmp_path_factory.mktemp("slack-daemon"), env=env)
    yield daemon
    daemon.stop()


def events_url(daemon: Daemon) -> str:
    return f"{daemon.url}/slack/events"


def uploads_with(standin: SlackStandIn, marker: str) -> list[Any]:
    return [u for u in standin.uploads if marker in u.initial_comment]


def say(standin: SlackStandIn, daemon: Daemon, text: str, **kwargs: Any) -> dict[str, str]:
    fields = slash_command(standin, "/say", text, **kwargs)
    started = time.perf_counter()
    reply = post_command(events_url(daemon), fields)
    assert reply.status == 200, reply
    assert time.perf_counter() - started < 3.0, "the slash command was not acknowledged within Slack's 3 s"
    return fields


def response_to(standin: SlackStandIn, fields: dict[str, str], timeout: float = 60) -> dict[str, Any]:
    """The first message the adapter posted to this command's response_url."""
    url = fields["response_url"]
    return standin.wait_for(lambda: next((r for r in standin.responses if r["_url"] == url), None), timeout)


def wav(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def http_speech(daemon: Daemon, text: str, voice: str, fmt: str = "wav") -> bytes:
    body = json.dumps({"model": "tts-1", "input": text, "voice": voice, "response_format": fmt}).encode()
    request = urllib.request.Request(f"{daemon.api}/audio/speech", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def share(standin: SlackStandIn, daemon: Daemon, text: str, data: bytes, *, user: str = "UADMIN",
          name: str = "clip.wav", mimetype: str = "audio/wav", filetype: str = "wav") -> dict[str, Any]:  # fmt: skip
    """A direct message to the bot with one file attached (a message event, subtype file_share)."""
    ts = f"{time.time():.6f}"
    event = {"type": "message", "subtype": "file_share", "channel": "D0DIRECT", "channel_type": "im",
             "user": user, "text": text, "ts": ts, "event_ts": ts,
             "files": [standin.share_file(name, data, mimetype, filetype)]}  # fmt: skip
    reply = post_event(events_url(daemon), event_callback(event))
    assert reply.status == 200, reply
    return event


def thread_reply(standin: SlackStandIn, event: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
    return standin.wait_for(
        lambda: next((m for m in standin.messages if m.get("thread_ts") == event["ts"]), None), timeout
    )


def voice_exists(daemon: Daemon, name: str) -> bool:
    try:
        with urllib.request.urlopen(f"{daemon.api}/voices/{name}", timeout=30):
            return True
    except urllib.error.HTTPError as exc:
        assert exc.code == 404, exc
        return False


def dominant_hz(data: bytes) -> float:
    samples, rate = decode(data)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


# --- /say over HTTP -----------------------------------------------------------------------------------


def test_say_posts_one_audio_file_that_speaks_the_text(
    standin: SlackStandIn, daemon: Daemon, transcriber: Any
) -> None:
    sentence = "The front door is open."
    fields = say(standin, daemon, sentence)
    upload = standin.wait_for(lambda: next(iter(uploads_with(standin, "front door")), None))
    assert upload.channel == fields["channel_id"]
    assert upload.filename.endswith(".mp3") and upload.data[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert DEFAULT_VOICE in upload.initial_comment and "<@UADMIN>" in upload.initial_comment
    samples, rate = decode(upload.data)
    heard = transcriber.transcribe(samples, rate, language="en")
    assert words(heard.text) == words(sentence), heard.text
    methods = [name for name, _ in standin.calls]
    assert "files.getUploadURLExternal" in methods and "files.upload" not in methods  # files.upload is sunset


def test_forged_and_stale_signatures_get_401_and_nothing_happens(
    standin: SlackStandIn, daemon: Daemon
) -> None:
    before = (len(standin.uploads), len(standin.responses))
    forged = post_command(events_url(daemon), slash_command(standin, "/say", "Forged hello"), secret="wrong")
    stale = post_command(
        events_url(daemon), slash_command(standin, "/say", "Stale hello"), timestamp=int(time.time()) - 6 * 60
    )
    unsigned = urllib.request.Request(events_url(daemon), data=b"command=/say&text=hi", method="POST")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(unsigned, timeout=10)
    assert (forged.status, stale.status, missing.value.code) == (401, 401, 401)
    time.sleep(3)  # time enough for an upload, had one been started
    assert (len(standin.uploads), len(standin.responses)) == before


def test_a_retried_delivery_uploads_once(standin: SlackStandIn, daemon: Daemon) -> None:
    fields = slash_command(standin, "/say", "Retries are harmless today.")
    first = post_command(events_url(daemon), fields)
    again = post_command(events_url(daemon), fields, retry=1)  # Slack's redelivery: same body, retry header
    assert (first.status, again.status) == (200, 200)
    standin.wait_for(lambda: uploads_with(standin, "Retries are harmless"))
    later = post_command(events_url(daemon), fields, retry=2)  # after the work is done
    assert later.status == 200
    time.sleep(3)
    assert len(uploads_with(standin, "Retries are harmless")) == 1


def test_unknown_voice_is_an_ephemeral_message_with_close_matches(
    standin: SlackStandIn, daemon: Daemon
) -> None:
    fields = say(standin, daemon, "fake-hihg: Hello there")
    reply = response_to(standin, fields)
    assert reply["response_type"] == "ephemeral"
    assert (
        "`fake-high`" in reply["text"]
        and "/voice list" in reply["text"]
        and "before the colon" in reply["text"]
    )
    assert not uploads_with(standin, "Hello there")


def test_too_long_text_is_refused_with_the_limit(standin: SlackStandIn, daemon: Daemon) -> None:
    reply = response_to(standin, say(standin, daemon, "word " * 400))
    assert "1000" in reply["text"] and reply["response_type"] == "ephemeral"


def test_secrets_never_reach_the_log_even_at_debug(daemon: Daemon) -> None:
    log = daemon.log()
    assert "slack: connected to Test Team as @voxhub" in log  # the adapter did log (and the test can see it)
    for secret in (BOT_TOKEN, SIGNING_SECRET, BOT_TOKEN.split("-", 1)[1]):
        assert secret not in log


def test_speak_this_shortcut_posts_the_message_as_audio(
    standin: SlackStandIn, daemon: Daemon, transcriber: Any
) -> None:
    payload = {"type": "message_action", "callback_id": "speak_this", "trigger_id": f"{time.time_ns()}.2.t",
               "response_url": standin.response_url(), "team": {"id": "T1"}, "user": {"id": "UPLAIN"},
               "channel": {"id": "C0RANDOM"}, "message_ts": "1.1",
               "message": {"type": "message", "text": "<!here|here> The release goes out on Friday &amp; we celebrate.", "ts": "1.1"}}  # fmt: skip
    reply = post_signed(
        events_url(daemon),
        urlencode({"payload": json.dumps(payload)}).encode(),
        "application/x-www-form-urlencoded",
    )
    assert reply.status == 200, reply
    upload = standin.wait_for(lambda: next(iter(uploads_with(standin, "The release goes out")), None))
    assert upload.channel == "C0RANDOM" and "<@UPLAIN>" in upload.initial_comment
    heard = transcriber.transcribe(*decode(upload.data), language="en")
    assert {"release", "friday", "celebrate"} <= set(words(heard.text)), heard.text


def test_a_mention_in_a_channel_with_a_clip_gets_the_report_in_its_thread(
    standin: SlackStandIn, daemon: Daemon
) -> None:
    ts = f"{time.time():.6f}"
    clip = http_speech(daemon, PASSAGE, DEFAULT_VOICE)
    event = {"type": "app_mention", "channel": "C0GENERAL", "user": "UPLAIN", "text": "<@UBOT> check", "ts": ts,
             "event_ts": ts, "files": [standin.share_file("take2.m4a", clip, "audio/mp4", "m4a")]}  # fmt: skip
    assert post_event(events_url(daemon), event_callback(event)).status == 200
    reply = thread_reply(standin, event)
    assert reply["channel"] == "C0GENERAL" and "Quality report for `take2.m4a`" in reply["text"], reply


# --- voices cloned from shared files --------------------------------------------------------------------


@pytest.fixture(scope="module")
def alice(standin: SlackStandIn, daemon: Daemon) -> dict[str, Any]:
    """`enroll alice` with ten seconds of the Piper voice, DM'd to the bot by an admin; the thread reply."""
    clip = http_speech(daemon, PASSAGE, DEFAULT_VOICE)
    event = share(standin, daemon, "enroll alice consent", clip)
    return thread_reply(standin, event)


def test_enroll_by_sharing_a_clip_stores_the_voice_and_replies_in_the_thread(
    daemon: Daemon, alice: dict[str, Any]
) -> None:
    text = alice["text"]
    assert alice["channel"] == "D0DIRECT"
    assert "Voice `alice` enrolled" in text and "/say alice:" in text, text
    assert "*Verdict: accept*" in text or "*Verdict: warn*" in text, text
    assert "SNR" in text and "length" in text, text  # the numbers, not just the verdict
    assert voice_exists(daemon, "alice")


def test_say_with_a_voice_name_speaks_in_that_voice(
    standin: SlackStandIn, daemon: Daemon, alice: dict[str, Any]
) -> None:
    say(standin, daemon, "alice: Stand-up starts in five minutes.")
    upload = standin.wait_for(lambda: next(iter(uploads_with(standin, "Stand-up starts")), None))
    assert "*alice*" in upload.initial_comment
    # alice is cloned on the fake engine: a tone whose pitch depends on her reference clip only.
    expected = dominant_hz(http_speech(daemon, "Stand-up starts in five minutes.", "alice"))
    assert dominant_hz(upload.data) == pytest.approx(expected, abs=3)
    assert dominant_hz(upload.data) != pytest.approx(
        dominant_hz(http_speech(daemon, "Hi.", "fake-low")), abs=3
    )


def test_a_silent_clip_is_rejected_in_the_thread_and_nothing_is_stored(
    standin: SlackStandIn, daemon: Daemon
) -> None:
    rng = np.random.default_rng(3)
    silence = wav(rng.normal(0, 1e-4, 5 * 24000), 24000)
    reply = thread_reply(standin, share(standin, daemon, "enroll quiet consent", silence))
    assert "Voice `quiet` was *not* stored" in reply["text"] and "*Verdict: reject*" in reply["text"], reply
    assert not voice_exists(daemon, "quiet")


def test_enrolling_without_consent_is_refused_and_the_reply_says_how(
    standin: SlackStandIn, daemon: Daemon
) -> None:
    clip = http_speech(daemon, PASSAGE, DEFAULT_VOICE)
    reply = thread_reply(standin, share(standin, daemon, "enroll carol", clip))
    assert "Voice `carol` was *not* stored" in reply["text"] and "`enroll carol consent`" in reply["text"], (
        reply
    )
    assert not voice_exists(daemon, "carol")


def test_the_consent_is_recorded_with_the_slack_user(daemon: Daemon, alice: dict[str, Any]) -> None:
    consent = get_json(daemon, "/v1/voices/alice")["consent"]
    assert consent["confirmed"] is True and (consent["surface"], consent["user"]) == ("slack", "UADMIN")


def test_check_reports_on_a_clip_without_storing_it(standin: SlackStandIn, daemon: Daemon) -> None:
    clip = http_speech(daemon, PASSAGE, DEFAULT_VOICE)
    reply = thread_reply(standin, share(standin, daemon, "check", clip, name="sample.wav", user="UPLAIN"))
    assert "Quality report for `sample.wav`" in reply["text"] and "*Verdict:" in reply["text"], reply
    assert not voice_exists(daemon, "sample")


def test_only_voice_managers_may_enroll_and_remove(standin: SlackStandIn, daemon: Daemon, alice: Any) -> None:
    reply = thread_reply(standin, share(standin, daemon, "enroll bob consent", b"RIFF....", user="UPLAIN"))
    assert "Only voice managers" in reply["text"], reply
    removal = response_to(standin, say_voice(standin, daemon, "remove alice", user="UPLAIN"))
    assert "Only voice managers" in removal["text"]
    assert not voice_exists(daemon, "bob") and voice_exists(daemon, "alice")


def test_a_file_that_is_not_audio_is_refused_before_downloading(
    standin: SlackStandIn, daemon: Daemon
) -> None:
    event = share(standin, daemon, "enroll notes consent", b"%PDF-1.4", name="notes.pdf", mimetype="application/pdf",
                  filetype="pdf")  # fmt: skip
    reply = thread_reply(standin, event)
    assert "not an audio file (application/pdf)" in reply["text"], reply
    file_id = event["files"][0]["id"]
    assert not any(file_id in json.dumps(c) for c in standin.calls)


def test_the_login_page_instead_of_a_file_is_a_clear_error(standin: SlackStandIn, daemon: Daemon) -> None:
    standin.login_page_only = True  # the app lacks files:read: Slack answers 200 with its login page
    try:
        reply = thread_reply(standin, share(standin, daemon, "check", b"RIFF....", name="clip.wav"))
    finally:
        standin.login_page_only = False
    assert "login page" in reply["text"] and "files:read" in reply["text"], reply


def say_voice(standin: SlackStandIn, daemon: Daemon, text: str, user: str = "UADMIN") -> dict[str, str]:
    fields = slash_command(standin, "/voice", text, user=user)
    assert post_command(events_url(daemon), fields).status == 200
    return fields


def test_voice_list_use_and_remove(standin: SlackStandIn, daemon: Daemon) -> None:
    listing = response_to(standin, say_voice(standin, daemon, "list", user="ULISTER"))["text"]
    assert f"`{DEFAULT_VOICE}`" in listing and "`fake-high`" in listing and "default" in listing, listing
    use = response_to(standin, say_voice(standin, daemon, "use fake-high", user="ULISTER"))["text"]
    assert "*fake-high*" in use, use
    say(standin, daemon, "Lunch is here.", user="ULISTER")
    upload = standin.wait_for(lambda: next(iter(uploads_with(standin, "Lunch is here")), None))
    assert "*fake-high*" in upload.initial_comment
    bad = response_to(standin, say_voice(standin, daemon, "remove nobody-here"))["text"]
    assert "no voice named `nobody-here`" in bad, bad
    helped = response_to(standin, say_voice(standin, daemon, ""))["text"]
    assert "enroll NAME" in helped and "/say NAME: TEXT" in helped


# --- Socket Mode, and a Slack that says no --------------------------------------------------------------


def test_socket_mode_say_is_acked_on_the_websocket_and_uploads(
    standin: SlackStandIn, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {**slack_env(standin, app_token=APP_TOKEN, signing_secret="", audio_format="opus"), **FAKE_ONLY}
    daemon = start_daemon(tmp_path_factory.mktemp("slack-socket"), env=env)
    try:
        standin.wait_for(lambda: standin.socket_connected, timeout=30)
        assert any(name == "apps.connections.open" for name, _ in standin.calls)
        fields = slash_command(standin, "/say", "Over the socket we go.")
        standin.send_envelope(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": fields,
            }
        )
        ack = standin.wait_for(
            lambda: next((a for a in standin.acks if a.get("envelope_id") == "env-1"), None), 5
        )
        assert ack["envelope_id"] == "env-1"
        upload = standin.wait_for(lambda: next(iter(uploads_with(standin, "Over the socket")), None))
        assert upload.channel == fields["channel_id"] and "*fake-low*" in upload.initial_comment
        assert upload.filename.endswith(".ogg") and upload.data[:4] == b"OggS" and decode(upload.data)[0].size
        crash = slash_command(standin, "/say", "CRASH the engine")  # the fake engine's worker dies on this
        standin.send_envelope({"envelope_id": "env-2", "type": "slash_commands", "payload": crash})
        told = response_to(standin, crash)
        assert (
            told["response_type"] == "ephemeral" and "crashed" in told["text"] and "retry" in told["text"]
        ), told
        # Socket Mode serves no HTTP route: nobody can post forged events to the daemon.
        assert post_command(f"{daemon.url}/slack/events", fields).status == 404
    finally:
        daemon.stop()
    assert "Slack refused" not in daemon.log() and APP_TOKEN not in daemon.log()


@pytest.mark.parametrize(
    ("keys", "token", "line"),
    [
        ({"mode": "http"}, "xoxb-revoked-token", "Slack refused the bot token (invalid_auth)"),
        (
            {"mode": "http", "api_url": "http://127.0.0.1:9/api/"},
            BOT_TOKEN,
            "cannot reach Slack at http://127.0.0.1:9/api/",
        ),
        ({"app_token": "xapp-1-revoked"}, "xapp-1-revoked", "Slack refused the app token (invalid_auth)"),
    ],
    ids=["bad-token", "unreachable", "bad-app-token"],
)
def test_a_bad_token_or_unreachable_slack_is_one_log_line_and_the_rest_keeps_working(
    standin: SlackStandIn,
    tmp_path_factory: pytest.TempPathFactory,
    keys: dict[str, str],
    token: str,
    line: str,
) -> None:
    bot_token = token if token.startswith("xoxb-") else BOT_TOKEN
    env = {**slack_env(standin, bot_token=bot_token, **keys), **FAKE_ONLY}
    daemon = start_daemon(tmp_path_factory.mktemp("slack-refused"), env=env)
    try:
        deadline = time.monotonic() + 20
        while line not in daemon.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        with urllib.request.urlopen(f"{daemon.url}/health", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"
        assert len(http_speech(daemon, "Still here.", "fake-low")) > 1000
        time.sleep(2.5)  # the retry loop must stay quiet after its first line
        log = daemon.log()
        assert sum(line in entry for entry in log.splitlines()) == 1, log
        assert token not in log
    finally:
        daemon.stop()


def test_missing_secrets_stop_start_up_with_the_key_to_set(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env.update({**FAKE_ONLY, "VOXHUB_DATA_DIR": str(tmp_path), "VOXHUB_HTTP__PORT": "0",
                "VOXHUB_ADAPTERS__SLACK__ENABLED": "true", "VOXHUB_ADAPTERS__SLACK__BOT_TOKEN": "xoxb-1"})  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "serve"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "adapters.slack.signing_secret is empty" in done.stderr and "app_token" in done.stderr


def test_a_retried_event_is_handled_once(standin: SlackStandIn, daemon: Daemon) -> None:
    ts = f"{time.time():.6f}"
    event = {"type": "message", "channel": "D0DIRECT", "channel_type": "im", "user": "UPLAIN", "text": "hello",
             "ts": ts, "event_ts": ts}  # fmt: skip
    delivery = event_callback(event)
    assert post_event(events_url(daemon), delivery).status == 200
    assert post_event(events_url(daemon), delivery, retry=1).status == 200
    reply = thread_reply(standin, event)
    assert "enroll NAME" in reply["text"]  # a message without a command gets the help
    time.sleep(2)
    assert len([m for m in standin.messages if m.get("thread_ts") == ts]) == 1
