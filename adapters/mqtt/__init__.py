"""MQTT: announcements, enrollment and quality checks over a broker, with Home Assistant discovery.

Topics (prefix `voxhub`): `say`, `enroll`, `check` (JSON commands, results on `.../result`), audio on
`audio/<target>`, availability on `status`. Modules: settings (keys and topics), commands (payloads),
discovery (Home Assistant configs), client (paho-mqtt on asyncio), adapter (lifetime and message
routing), handlers (what each command does on the Hub), voices (the announcement voice and HA entities).
"""

from adapters.mqtt.adapter import MqttAdapter

__all__ = ["MqttAdapter"]
