"""The MQTT adapter against a real mosquitto broker and the real daemon (paho-mqtt as the client)."""

from __future__ import annotations

import base64
import http.server
import json
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAKE_ONLY, Daemon, decode, start_daemon, words
from tests.mqtt_support import MOSQUITTO, NO_BROKER, Broker, Probe, free_port, mqtt_env, wait_online

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason=NO_BROKER)

DEFAULT_VOICE = "en_US-joe-medium"
# About seven seconds of speech: enough for a reference clip.
PASSAGE = (
    "My voice is my passport. Please verify me, and remember that the kitchen lights go off at ten tonight."
)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(tmp_path_factory.mktemp("broker")).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def daemon(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """The daemon on the offline Piper voice, with the MQTT adapter (and Hermes) on."""
    env = mqtt_env(broker, client_id="voxhub-test", hermes="true", max_audio_mb="1")
    # Clip URLs are fetched from public addresses only; "localhost" is this test's allowed LAN source (the
    # daemon's own clips, reached by that name), while 127.0.0.1 stays refused.
    env["VOXHUB_ENROLL__ALLOWED_HOSTS"] = "localhost"
    daemon = start_daemon(tmp_path_factory.mktemp("mqtt-daemon"), env=env)
    wait_online(broker.port)
    yield daemon
    daemon.stop()


@pytest.fixture
def probe(broker: Broker, daemon: Daemon) -> Iterator[Probe]:
    probe = Probe(broker.port)
    yield probe
    probe.close()


def _speech_clip(probe: Probe, text: str) -> bytes:
    since = len(probe.messages)
    result = probe.request("say", {"text": text, "target": "clips"})
    assert result["status"] == "ok", result
    return probe.topic("voxhub/audio/clips", since=since).payload


ANNOUNCE = "homeassistant/notify/voxhub-test/announce/config"
SELECT = "homeassistant/select/voxhub-test/voice/config"


def _retained(broker: Broker, *topics: str) -> dict[str, bytes]:
    """The retained messages on `topics`, as a Home Assistant starting now would read them."""
    # The status topic is always retained and comes after the others, so it marks the end of the batch.
    probe = Probe(broker.port, (*topics, "voxhub/status"))
    try:
        probe.topic("voxhub/status", timeout=10)
        return {m.topic: m.payload for m in probe.messages if m.retain and m.topic in topics}
    finally:
        probe.close()


def _configs(broker: Broker) -> dict[str, dict[str, object]]:
    return {topic: json.loads(payload) for topic, payload in _retained(broker, ANNOUNCE, SELECT).items()}


def test_say_round_trip_speaks_the_text_and_the_url_serves_the_same_audio(
    probe: Probe, transcriber: object
) -> None:
    sentence = "The front door is open."
    result = probe.request("say", {"text": sentence, "target": "kitchen"})
    audio = probe.topic("voxhub/audio/kitchen")
    assert result["status"] == "ok", result
    assert result["voice"] == DEFAULT_VOICE and result["format"] == "wav"
    samples, rate = decode(audio.payload)
    assert result["duration_s"] == pytest.approx(len(samples) / rate, abs=0.01)
    heard = transcriber.transcribe(samples, rate, language="en")  # type: ignore[attr-defined]
    assert words(heard.text) == words(sentence), heard.text
    with urllib.request.urlopen(result["url"]) as response:
        assert response.headers["Content-Type"] == "audio/wav"
        assert response.read() == audio.payload


def test_plain_text_on_the_announce_entity_is_spoken(
    broker: Broker, probe: Probe, transcriber: object
) -> None:
    announce = _configs(broker)[ANNOUNCE]
    since = len(probe.messages)
    probe.publish(str(announce["command_topic"]), "Dinner is ready.")  # what HA's notify.send_message sends
    result = probe.topic("voxhub/say/result", since=since).json()
    assert result["status"] == "ok" and result["id"] is None, result
    samples, rate = decode(probe.topic("voxhub/audio/default", since=since).payload)
    heard = transcriber.transcribe(samples, rate, language="en")  # type: ignore[attr-defined]
    assert {"dinner", "ready"} <= set(words(heard.text)), heard.text


def test_requested_format_and_speed(probe: Probe) -> None:
    normal = probe.request("say", {"text": "Laundry is done.", "target": "fmt", "format": "opus"})
    data = probe.topic("voxhub/audio/fmt").payload
    assert normal["format"] == "opus" and data[:4] == b"OggS", normal
    samples, rate = decode(data)
    assert len(samples) / rate == pytest.approx(normal["duration_s"], abs=0.1)
    fast = probe.request("say", {"text": "Laundry is done.", "target": "fmt", "speed": 2.0})
    assert fast["status"] == "ok" and fast["duration_s"] < 0.8 * normal["duration_s"], (fast, normal)


def test_discovery_configs_are_retained_json_with_the_home_assistant_keys(
    broker: Broker, probe: Probe
) -> None:
    configs = _configs(broker)
    announce, select = configs[ANNOUNCE], configs[SELECT]
    for config in (announce, select):
        assert {"unique_id", "device", "availability", "command_topic", "name"} <= set(config), config
        assert config["availability"] == [
            {"topic": "voxhub/status", "payload_available": "online", "payload_not_available": "offline"}
        ]
        assert config["device"]["identifiers"] == ["voxhub_voxhub-test"]  # type: ignore[index]
    assert announce["command_topic"] == "voxhub/say"
    assert DEFAULT_VOICE in select["options"]  # type: ignore[operator]
    assert select["state_topic"] == "voxhub/voice" and select["command_topic"] == "voxhub/voice/set"
    retained = Probe(broker.port, ("voxhub/voice", "voxhub/status"))
    try:
        assert retained.topic("voxhub/voice", timeout=10).payload.decode() in select["options"]  # type: ignore[operator]
        assert retained.topic("voxhub/status", timeout=10).payload == b"online"
    finally:
        retained.close()
    # Home Assistant restarting (and maybe losing retained messages) gets every config again.
    since = len(probe.messages)
    probe.publish("homeassistant/status", "online")
    again = probe.topic(SELECT, since=since)
    assert json.loads(again.payload) == select


def test_enroll_over_mqtt_adds_the_voice_to_home_assistant_and_removal_takes_it_away(
    broker: Broker, daemon: Daemon, probe: Probe
) -> None:
    said = probe.request("say", {"text": PASSAGE, "target": "clips"})
    since = len(probe.messages)
    # By URL, without a transcript: voxhub downloads the clip and transcribes it. The clip URL is on
    # loopback: fetched only because its host name is on enroll.allowed_hosts.
    refused = probe.request("enroll", {"consent": True, "name": "mqtt-mum", "url": said["url"]})
    assert refused["status"] == "error" and refused["code"] == "bad_url", refused
    url = said["url"].replace("//127.0.0.1:", "//localhost:")
    result = probe.request("enroll", {"consent": True, "name": "mqtt-mum", "url": url})
    assert result["status"] == "ok", result
    assert result["voice"]["name"] == "mqtt-mum" and result["voice"]["kind"] == "cloned"
    assert result["report"]["verdict"] in ("accept", "warn"), result
    assert words(result["transcript"])[:5] == ["my", "voice", "is", "my", "passport"], result
    select = probe.wait_for(lambda m: m.topic == SELECT and b"mqtt-mum" in m.payload, since=since).json()
    assert DEFAULT_VOICE in select["options"] and "mqtt-mum" in select["options"]
    # The voice's own notify entity: render its template as Home Assistant would and send it.
    entity_topic = "homeassistant/notify/voxhub-test/say_mqtt-mum/config"
    entity = probe.topic(entity_topic, since=since).json()
    import jinja2

    environment = jinja2.Environment()
    payload = environment.from_string(entity["command_template"]).render(message='Say "hi"')
    assert json.loads(payload) == {"text": 'Say "hi"', "voice": "mqtt-mum"}
    spoken = probe.request("say", {**json.loads(payload), "target": "mum"})
    # Piper alone cannot speak a cloned voice: the error proves the voice reached the hub.
    assert spoken["status"] == "error" and "cloning engine" in spoken["error"], spoken

    since = len(probe.messages)  # before the DELETE: its updates may arrive before it returns
    request = urllib.request.Request(f"{daemon.api}/voices/mqtt-mum", method="DELETE")
    urllib.request.urlopen(request).close()
    select = probe.wait_for(lambda m: m.topic == SELECT and b"mqtt-mum" not in m.payload, since=since).json()
    assert (
        select["options"] == [o for o in select["options"] if o != "mqtt-mum"]
        and DEFAULT_VOICE in select["options"]
    )
    # Removed for Home Assistant: an empty retained config deletes the entity.
    assert probe.wait_for(lambda m: m.topic == entity_topic and m.payload == b"", since=since)
    assert entity_topic not in _retained(broker, entity_topic)


def test_a_leftover_entity_of_a_voice_that_is_gone_is_removed(broker: Broker, probe: Probe) -> None:
    # As if "ghost" had been removed while voxhub was down: its retained config is still on the broker.
    ghost = "homeassistant/notify/voxhub-test/say_ghost/config"
    since = len(probe.messages)
    probe.publish(ghost, json.dumps({"name": "Say as ghost", "command_topic": "voxhub/say"}), retain=True)
    assert probe.wait_for(lambda m: m.topic == ghost and m.payload == b"", since=since)
    assert ghost not in _retained(broker, ghost)
    assert ANNOUNCE in _retained(broker, ANNOUNCE)  # its own entities stay


def test_the_select_picks_the_announcement_voice(broker: Broker, daemon: Daemon, probe: Probe) -> None:
    clip = _speech_clip(probe, PASSAGE.replace("passport", "password"))
    assert (
        probe.request(
            "enroll", {"consent": True, "name": "mqtt-dad", "audio_b64": base64.b64encode(clip).decode()}
        )["status"]
        == "ok"
    )
    since = len(probe.messages)
    probe.publish("voxhub/voice/set", "mqtt-dad")
    assert probe.wait_for(lambda m: m.topic == "voxhub/voice" and m.payload == b"mqtt-dad", since=since)
    # Plain text now goes to the selected (cloned) voice, which only a cloning engine could speak.
    result = probe.request("say", "Hello from dad.")
    assert result["status"] == "error" and "mqtt-dad" in result["error"], result
    since = len(probe.messages)
    probe.publish("voxhub/voice/set", "nobody-here")
    assert probe.topic("voxhub/voice", since=since).payload == b"mqtt-dad"  # unknown voices are refused
    since = len(probe.messages)
    urllib.request.urlopen(urllib.request.Request(f"{daemon.api}/voices/mqtt-dad", method="DELETE")).close()
    assert probe.wait_for(
        lambda m: m.topic == "voxhub/voice" and m.payload == DEFAULT_VOICE.encode(), since=since
    )
    assert probe.request("say", "Back to normal.")["voice"] == DEFAULT_VOICE


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A LAN service that must never be reached: it records every request it gets."""

    def do_GET(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.server.location)  # type: ignore[attr-defined]
            self.end_headers()
            return
        body = b"SECRET admin page"
        self.send_response(404 if self.path.startswith("/missing") else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def lan_servers() -> Iterator[tuple[http.server.HTTPServer, http.server.HTTPServer]]:
    """(target, redirector): the redirector, reached as "localhost" (allowed), points at the target."""
    servers = []
    for _ in range(2):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.seen = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    target, redirector = servers
    redirector.location = f"http://127.0.0.1:{target.server_address[1]}/admin"  # type: ignore[attr-defined]
    yield target, redirector
    for server in servers:
        server.shutdown()
        server.server_close()


def test_clip_urls_cannot_reach_the_lan_or_leak_what_it_answers(
    probe: Probe, lan_servers: tuple[http.server.HTTPServer, http.server.HTTPServer]
) -> None:
    target, redirector = lan_servers
    target_port, redirector_port = target.server_address[1], redirector.server_address[1]
    for command in ("check", "enroll"):
        body = {"name": "ssrf"} if command == "enroll" else {}
        for url in (f"http://127.0.0.1:{target_port}/admin", "http://169.254.169.254/latest/meta-data",
                    f"http://[::ffff:127.0.0.1]:{target_port}/admin"):  # fmt: skip
            result = probe.request(command, {**body, "url": url})
            assert result["status"] == "error" and result["code"] == "bad_url", result
            assert "private, loopback or link-local" in result["error"], result
        # The first hop is an allowed host; its redirect to a loopback address that is not allowed is refused.
        result = probe.request(command, {**body, "url": f"http://localhost:{redirector_port}/redirect"})
        assert result["status"] == "error" and result["code"] == "bad_url", result
    assert target.seen == []  # type: ignore[attr-defined]
    assert redirector.seen == ["/redirect", "/redirect"]  # type: ignore[attr-defined]
    # An allowed host's answer is not echoed: no status, no body, no connection error.
    result = probe.request("check", {"url": f"http://localhost:{redirector_port}/missing"})
    assert result["status"] == "error" and result["code"] == "bad_url", result
    assert "404" not in result["error"] and "SECRET" not in result["error"], result
    closed = free_port()
    result = probe.request("check", {"url": f"http://localhost:{closed}/clip.wav"})
    assert result["status"] == "error" and "the connection failed" in result["error"], result
    assert "refused" not in result["error"].lower(), result


def test_check_over_mqtt(probe: Probe) -> None:
    clip = _speech_clip(probe, PASSAGE)
    result = probe.request("check", {"audio_b64": base64.b64encode(clip).decode()})
    assert result["status"] == "ok" and result["verdict"] in ("accept", "warn"), result
    assert result["report"]["metrics"]["speech_s"] > 3.0, result
    short = _speech_clip(probe, "Hi.")
    result = probe.request("check", {"audio_b64": base64.b64encode(short).decode()})
    assert result["status"] == "ok" and result["verdict"] == "reject", result
    assert any(f["code"] == "too_short" for f in result["report"]["findings"]), result


def test_enrolling_without_consent_is_refused_and_says_how(probe: Probe, daemon: Daemon) -> None:
    result = probe.request("enroll", {"name": "mqtt-nobody", "audio_b64": base64.b64encode(b"RIFF").decode()})
    assert result["status"] == "error" and result["code"] == "consent_required", result
    assert '"consent": true' in result["error"] and "permission" in result["error"], result
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{daemon.api}/voices/mqtt-nobody")
    assert caught.value.code == 404


def test_a_rejected_clip_is_an_error_with_its_report_and_stores_nothing(probe: Probe, daemon: Daemon) -> None:
    short = _speech_clip(probe, "Hi.")
    result = probe.request(
        "enroll", {"consent": True, "name": "mqtt-short", "audio_b64": base64.b64encode(short).decode()}
    )
    assert result["status"] == "error" and "nothing was stored" in result["error"], result
    assert result["report"]["verdict"] == "reject"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{daemon.api}/voices/mqtt-short")
    assert caught.value.code == 404


def test_malformed_payloads_get_error_results_and_the_adapter_keeps_going(
    probe: Probe, daemon: Daemon
) -> None:
    since = len(probe.messages)
    probe.publish("voxhub/say", '{"text": "unterminated')
    bad_json = probe.topic("voxhub/say/result", since=since).json()
    assert bad_json["status"] == "error" and "not valid JSON" in bad_json["error"], bad_json

    unknown = probe.request("say", {"text": "Hello.", "voice": "nobody"})
    assert unknown["status"] == "error" and unknown["code"] == "voice_not_found"
    assert "'nobody' not found" in unknown["error"]

    typo = probe.request("say", {"txet": "Hello."})
    assert typo["status"] == "error" and "txet" in typo["error"] and "text" in typo["error"], typo

    huge = base64.b64encode(b"\0" * (2 << 20)).decode()  # the test daemon allows 1 MB clips
    oversize = probe.request("enroll", {"consent": True, "name": "too-big", "audio_b64": huge})
    assert oversize["status"] == "error" and oversize["code"] == "too_large", oversize
    assert "max_audio_mb" in oversize["error"]

    noise = probe.request(
        "enroll", {"consent": True, "name": "noise", "audio_b64": base64.b64encode(b"not audio").decode()}
    )
    assert noise["status"] == "error" and noise["code"] == "bad_audio", noise

    for bad in ("a/#", "..", "kitchen/../status", "a/b"):
        target = probe.request("say", {"text": "Hello.", "target": bad})
        assert target["status"] == "error" and "one level of 1-64 letters" in target["error"], target

    assert probe.request("say", {"text": "Still here."})["status"] == "ok"
    with urllib.request.urlopen(f"{daemon.url}/health") as response:
        assert json.loads(response.read())["status"] == "ok"


def test_unknown_clip_is_a_404_naming_the_reason(daemon: Daemon) -> None:
    base = daemon.url
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{base}/v1/audio/clips/nothing-here.wav")
    assert caught.value.code == 404
    assert "synthesize the text again" in json.loads(caught.value.read())["error"]["message"]


def test_hermes_say(probe: Probe) -> None:
    since = len(probe.messages)
    probe.publish("hermes/tts/say", json.dumps({"text": "Hello there.", "id": "h1", "siteId": "kitchen"}))
    audio = probe.topic("hermes/audioServer/kitchen/playBytes/h1", since=since)
    samples, rate = decode(audio.payload)
    assert len(samples) / rate > 0.4
    finished = probe.topic("hermes/tts/sayFinished", since=since)
    assert finished.json() == {"id": "h1", "siteId": "kitchen", "sessionId": None}
    assert finished.at >= audio.at


def test_broker_restart_reconnects_and_the_next_command_works(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker").start()
    daemon = start_daemon(tmp_path / "data", env={**FAKE_ONLY, **mqtt_env(broker)})
    try:
        wait_online(broker.port)
        probe = Probe(broker.port)
        assert probe.request("say", {"text": "Before the restart."})["status"] == "ok"
        probe.close()
        broker.kill()
        broker.start()  # same port, no persistence: every retained message is gone
        wait_online(broker.port, timeout=30)
        probe = Probe(broker.port)
        after = probe.request("say", {"text": "After the restart."}, timeout=30)
        assert after["status"] == "ok" and after["voice"] == "fake-low", after
        select = "homeassistant/select/voxhub/voice/config"
        probe.topic(select, timeout=10)  # published again after the reconnect...
        late = Probe(broker.port, (select,))
        assert late.topic(select, timeout=10).retain  # ...and retained for a Home Assistant starting later
        late.close()
        # A crash leaves the last will: Home Assistant marks the entities unavailable.
        daemon.kill(signal.SIGKILL)
        assert probe.wait_for(lambda m: m.topic == "voxhub/status" and m.payload == b"offline", timeout=60)
        probe.close()
    finally:
        daemon.stop()
        broker.stop()


def test_the_daemon_starts_without_its_broker_and_connects_when_it_appears(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker")  # configured, not started yet
    daemon = start_daemon(tmp_path / "data", env={**FAKE_ONLY, **mqtt_env(broker)})
    try:
        with urllib.request.urlopen(f"{daemon.url}/health") as response:
            assert json.loads(response.read())["status"] == "ok"  # HTTP does not wait for the broker
        broker.start()
        wait_online(broker.port, timeout=30)
        probe = Probe(broker.port)
        assert probe.request("say", {"text": "Better late."})["status"] == "ok"
        probe.close()
        assert f"cannot reach the broker at 127.0.0.1:{broker.port}" in daemon.log()
    finally:
        daemon.stop()
        broker.stop()


def test_custom_prefix_api_keys_and_a_clean_stop_saying_offline(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker").start()
    env = {**FAKE_ONLY, **mqtt_env(broker, topic_prefix="house/tts"), "VOXHUB_HTTP__API_KEYS": "secret"}
    daemon = start_daemon(tmp_path / "data", env=env)
    try:
        wait_online(broker.port, prefix="house/tts")
        probe = Probe(broker.port, ("house/tts/#",))
        result = probe.request("say", {"text": "Custom prefix."}, prefix="house/tts")
        assert result["status"] == "ok" and probe.topic("house/tts/audio/default").payload[:4] == b"RIFF"
        # Players cannot send API keys: the clip's random id is its key, the rest of the API stays locked.
        with urllib.request.urlopen(result["url"]) as response:
            assert response.read()[:4] == b"RIFF"
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{daemon.api}/voices")
        assert caught.value.code == 401
        since = len(probe.messages)
        assert daemon.stop() == 0
        assert probe.wait_for(
            lambda m: m.topic == "house/tts/status" and m.payload == b"offline", since=since
        )
        probe.close()
    finally:
        daemon.stop()
        broker.stop()


def test_bad_mqtt_settings_stop_start_up_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as caught:
        start_daemon(tmp_path / "data", env={**FAKE_ONLY, "VOXHUB_ADAPTERS__MQTT__ENABLED": "true",
                                             "VOXHUB_ADAPTERS__MQTT__URL": "http://broker:1883"}, timeout=60)  # fmt: skip
    assert "adapters.mqtt.url" in str(caught.value) and "mqtt://" in str(caught.value)
