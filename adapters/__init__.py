"""Platform adapters. Each is a thin translation between one platform and the Hub facade (hub.api).

An adapter module exposes a class taking `(hub, options)` — options being its `[adapters.NAME]` table,
which it parses into its own typed settings (raising ConfigError) — with `async start()` and
`async stop()`. `voxhub serve` starts every enabled adapter after the Hub and stops them before it.
"""

ADAPTERS: dict[str, str] = {
    "wyoming": "adapters.wyoming:WyomingAdapter",
    "mqtt": "adapters.mqtt:MqttAdapter",
    "slack": "adapters.slack:SlackAdapter",
    "discord": "adapters.discord:DiscordAdapter",
}


def load_adapter_class(name: str) -> type:
    """Import the adapter class registered under `name` (lazily)."""
    from hub.registry import load

    return load(ADAPTERS, name, "adapter")
