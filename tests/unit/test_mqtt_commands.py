"""MQTT payload parsing, settings and discovery configs (no broker needed)."""

from __future__ import annotations

import base64
import json

import pytest

from adapters.mqtt import commands, discovery
from adapters.mqtt.settings import MqttSettings, Topics, load
from hub import audio, rules
from hub.api import OUTPUT_FORMATS, ConfigError
from hub.clips import Clip, ClipStore

LIMIT = 1 << 20


def test_plain_text_and_quoted_text_are_the_text() -> None:
    assert commands.parse_say(b"  Dinner is ready. ", max_bytes=LIMIT) == commands.Say(
        text="Dinner is ready."
    )
    assert commands.parse_say(b'"Front door open"', max_bytes=LIMIT).text == "Front door open"
    assert commands.parse_say("Ça va?".encode(), max_bytes=LIMIT).text == "Ça va?"


def test_json_say_fields() -> None:
    body = {
        "id": 7,
        "text": "Hi",
        "voice": "mum",
        "target": "kitchen_speaker-2",
        "format": "opus",
        "speed": 1.5,
    }
    say = commands.parse_say(json.dumps(body).encode(), max_bytes=LIMIT)
    assert say == commands.Say(
        text="Hi", id=7, voice="mum", target="kitchen_speaker-2", format="opus", speed=1.5
    )


@pytest.mark.parametrize(
    "target",
    ["..", ".", "+", "#", "", "a/b", "a//b", "kitchen/../x", "/kitchen", "x" * 65, "küche", "a b", "a\x00"],
)
def test_a_target_must_be_one_safe_topic_level(target: str) -> None:
    payload = json.dumps({"id": 9, "text": "Hi", "target": target}).encode()
    with pytest.raises(commands.BadCommand) as caught:
        commands.parse_say(payload, max_bytes=LIMIT)
    assert "one level of 1-64 letters, digits" in caught.value.message and caught.value.command_id == 9
    with pytest.raises(ConfigError, match=r"adapters\.mqtt\.target"):
        load({"target": target})


@pytest.mark.parametrize(
    ("payload", "message", "command_id"),
    [
        (b'{"text": "x"', "not valid JSON", None),
        (b"", "empty", None),
        (b"\xff\xfe", "not UTF-8", None),
        (b'{"id": "a", "txt": "x"}', "unknown key(s) txt in say: valid keys are id, text", "a"),
        (b'{"id": "b", "text": ""}', "`text` is required", "b"),
        (b'{"id": "c", "text": "x", "target": "a/+"}', "cannot be a topic level", "c"),
        (b'{"id": "d", "text": "x", "target": "a//b"}', "cannot be a topic level", "d"),
        (b'{"id": "e", "text": "x", "format": "ogg"}', "use one of mp3, opus", "e"),
        (b'{"id": "f", "text": "x", "speed": "fast"}', "`speed` must be a int or float", "f"),
        (b'{"id": "g", "text": 5}', "`text` must be a str", "g"),
        (b'{"id": true, "text": "x"}', "`id` must be a string or an integer", None),
    ],
)
def test_bad_say_payloads_name_the_problem(payload: bytes, message: str, command_id: object) -> None:
    with pytest.raises(commands.BadCommand) as caught:
        commands.parse_say(payload, max_bytes=LIMIT)
    assert message in caught.value.message
    assert caught.value.command_id == command_id


def test_oversize_payloads_are_refused_before_decoding() -> None:
    with pytest.raises(commands.BadCommand) as caught:
        commands.parse_say(b"x" * 101, max_bytes=100)
    assert caught.value.code == "too_large"
    clip = base64.b64encode(b"\0" * 3000).decode()
    with pytest.raises(commands.BadCommand) as caught:
        commands.parse_enroll(json.dumps({"name": "a", "audio_b64": clip}).encode(), max_bytes=1000)
    assert caught.value.code == "too_large" and "max_audio_mb" in caught.value.message


def test_enroll_and_check_payloads() -> None:
    clip = base64.b64encode(b"RIFF....").decode()
    body = {"id": "e1", "name": "mum", "audio_b64": clip, "transcript": "hello", "language": "en"}
    enroll = commands.parse_enroll(json.dumps(body).encode(), max_bytes=LIMIT)
    assert (enroll.name, enroll.audio, enroll.transcript, enroll.language) == (
        "mum",
        b"RIFF....",
        "hello",
        "en",
    )
    by_url = commands.parse_enroll(b'{"name": "dad", "url": "https://example.org/dad.wav"}', max_bytes=LIMIT)
    assert by_url.url == "https://example.org/dad.wav" and by_url.audio == b""
    check = commands.parse_check(json.dumps({"audio_b64": clip}).encode(), max_bytes=LIMIT)
    assert check.audio == b"RIFF...."
    for bad, message in [
        ({"audio_b64": clip}, "`name` is required"),
        ({"name": "x"}, "either `audio_b64`"),
        ({"name": "x", "audio_b64": clip, "url": "http://a/b.wav"}, "either `audio_b64`"),
        ({"name": "x", "url": "file:///etc/passwd"}, "http:// or https://"),
        ({"name": "x", "audio_b64": "%%%"}, "not valid base64"),
    ]:
        with pytest.raises(commands.BadCommand, match=message.replace("(", r"\(")):
            commands.parse_enroll(json.dumps(bad).encode(), max_bytes=LIMIT)


def test_hermes_say_defaults() -> None:
    say = commands.parse_hermes_say(b'{"text": "Hello", "lang": "en"}', max_bytes=LIMIT, new_id="gen")
    assert (say.id, say.site_id, say.session_id, say.lang) == ("gen", "default", None, "en")
    say = commands.parse_hermes_say(b'{"text": "Hi", "id": "x", "siteId": "a/#"}', max_bytes=LIMIT, new_id="")
    assert say.site_id == "default"  # a wildcard cannot be part of the audio server topic
    say = commands.parse_hermes_say(b'{"text": "Hi", "id": "a#b"}', max_bytes=LIMIT, new_id="fresh")
    assert say.id == "fresh"


def test_settings_parse_and_reject_bad_values_naming_the_key() -> None:
    settings = load({"url": "mqtts://user:pa%40ss@broker.lan", "max_audio_mb": "2.5", "hermes": "on"})
    assert (settings.host, settings.port, settings.tls) == ("broker.lan", 8883, True)
    assert settings.credentials == ("user", "pa@ss") and settings.max_audio_bytes == int(2.5 * (1 << 20))
    assert settings.hermes is True
    for options, key in [
        ({"url": "http://broker:1883"}, "adapters.mqtt.url"),
        ({"url": "mqtt://broker:99999"}, "adapters.mqtt.url"),
        ({"topic_prefix": "a/#"}, "adapters.mqtt.topic_prefix"),
        ({"audio_format": "ogg"}, "adapters.mqtt.audio_format"),
        ({"tls_ca": "/nonexistent/ca.pem"}, "adapters.mqtt.tls_ca"),
        ({"public_url": "192.168.1.5:8700"}, "adapters.mqtt.public_url"),
        ({"keepalive_s": "soon"}, "adapters.mqtt.keepalive_s"),
        ({"prefix": "voxhub"}, "adapters.mqtt.prefix"),
    ]:
        with pytest.raises(ConfigError, match=key):
            load(options)


def test_discovery_configs() -> None:
    topics = Topics.of(MqttSettings(client_id="voxhub.kitchen"))
    assert topics.discovery("select", "voice") == "homeassistant/select/voxhub_kitchen/voice/config"
    select = discovery.voice_select_config(topics, ["a", "b"])
    assert select["options"] == ["a", "b"] and select["command_topic"] == "voxhub/voice/set"
    entity = discovery.voice_notify_config(topics, "mum.v2")
    assert entity["unique_id"] == "voxhub_kitchen_say_mum_v2"
    topic = topics.discovery("notify", discovery.voice_entity("mum.v2"))
    assert discovery.parse_voice_entity(topic, topics) == "say_mum_v2"
    assert discovery.parse_voice_entity(topics.discovery("notify", discovery.ANNOUNCE), topics) is None
    assert json.loads(discovery.render(entity))["name"] == "Say as mum.v2"


def test_facade_formats_match_the_codecs() -> None:
    # One definition (hub.rules), re-exported by the facade, and a codec behind every format it lists.
    assert OUTPUT_FORMATS is rules.OUTPUT_FORMATS and set(audio.CONTENT_TYPES) == set(OUTPUT_FORMATS)


def test_clip_store_keeps_the_newest_within_its_bounds() -> None:
    store = ClipStore(max_clips=3, max_bytes=100)
    ids = [store.add(bytes(10), "audio/wav") for _ in range(4)]
    assert all(i.endswith(".wav") for i in ids) and len(set(ids)) == 4
    assert store.get(ids[0]) is None and store.get(ids[3]) is not None and len(store) == 3
    big = store.add(bytes(90), "audio/ogg")  # 120 bytes in all: the two oldest go
    assert big.endswith(".ogg") and len(store) == 2 and store.get(ids[3]) is not None
    huge = store.add(bytes(500), "audio/mpeg")
    assert huge.endswith(".mp3") and len(store) == 1 and store.get(huge) == Clip(bytes(500), "audio/mpeg")
