"""Home Assistant MQTT discovery: the voxhub device, its notify entities and the voice select.

Entities (all on one device, all following `<prefix>/status` for availability):
- `notify.<device>_announce`: messages sent to it are spoken in the selected announcement voice;
- `select.<device>_announcement_voice`: that voice, its options kept in step with the voice library;
- one `notify` entity per cloned voice ("Say as mum"), removed again when the voice is removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from adapters.mqtt.settings import Topics, object_id

ANNOUNCE = "announce"
VOICE_SELECT = "voice"
# Per-voice notify entities are `say_<voice>`, so stale ones can be recognised by their object id.
VOICE_ENTITY_PREFIX = "say_"


def _common(topics: Topics, unique: str) -> dict[str, object]:
    return {
        "unique_id": f"{topics.node_id}_{unique}",
        "availability": [
            {"topic": topics.status, "payload_available": "online", "payload_not_available": "offline"}
        ],
        "device": {
            "identifiers": [f"voxhub_{topics.node_id}"],
            "name": "voxhub",
            "manufacturer": "voxhub",
            "model": "Voice hub",
        },
        "origin": {"name": "voxhub"},
        "qos": 1,
    }


def announce_config(topics: Topics) -> dict[str, object]:
    """The notify entity whose messages are spoken (HA sends the message as plain text)."""
    return {
        **_common(topics, ANNOUNCE),
        "name": "Announce",
        "icon": "mdi:bullhorn",
        "command_topic": topics.command("say"),
    }


def voice_select_config(topics: Topics, voices: Iterable[str]) -> dict[str, object]:
    """The select entity for the announcement voice, with every voice of the library as an option."""
    return {
        **_common(topics, VOICE_SELECT),
        "name": "Announcement voice",
        "icon": "mdi:account-voice",
        "entity_category": "config",
        "command_topic": topics.voice_set,
        "state_topic": topics.voice_state,
        "options": list(voices),
    }


def voice_entity(voice: str) -> str:
    """The object id of a voice's own notify entity."""
    return VOICE_ENTITY_PREFIX + object_id(voice)


def voice_notify_config(topics: Topics, voice: str) -> dict[str, object]:
    """A notify entity that speaks in one voice, whatever the select says."""
    # Voice names are limited to letters, digits and - _ . so they need no escaping inside the JSON.
    template = '{"text": {{ message | tojson }}, "voice": "' + voice + '"}'
    return {
        **_common(topics, voice_entity(voice)),
        "name": f"Say as {voice}",
        "icon": "mdi:account-voice",
        "command_topic": topics.command("say"),
        "command_template": template,
    }


def render(config: dict[str, object]) -> bytes:
    """The retained payload of a discovery config."""
    return json.dumps(config, separators=(",", ":")).encode()


def parse_voice_entity(topic: str, topics: Topics) -> str | None:
    """The object id of one of our per-voice notify configs, or None for any other topic."""
    prefix = f"{topics.discovery_prefix}/notify/{topics.node_id}/"
    if not (topic.startswith(prefix) and topic.endswith("/config")):
        return None
    name = topic[len(prefix) : -len("/config")]
    return name if name.startswith(VOICE_ENTITY_PREFIX) and "/" not in name else None
