"""MQTT: announcements, enrollment and quality checks over a broker, with Home Assistant discovery.

Topics (prefix `voxhub`): `say`, `enroll`, `check` (JSON commands, results on `.../result`), audio on
`audio/<target>`, availability on `status`. Modules: settings (keys and topics), commands (payloads),
discovery (Home Assistant configs), client (paho-mqtt on asyncio), adapter (the translation to the Hub).
"""

from adapters.mqtt.adapter import MqttAdapter

__all__ = ["MqttAdapter"]
