"""The Home Assistant add-on: config.yaml follows the add-on schema rules, and every option reaches the daemon.

The s6 run script is executed for real under bash, with bashio's functions stubbed to read an options file,
and the environment it would start `voxhub serve` with is loaded by the daemon's own settings loader.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.settings import Settings, load_settings
from tests.conftest import REPO

ADDON = REPO / "addon"
S6 = ADDON / "rootfs/etc/s6-overlay/s6-rc.d"
ARCHES = {"armhf", "armv7", "aarch64", "amd64", "i386"}
MAPS = {"config", "ssl", "addons", "backup", "share", "media", "all_addon_configs", "homeassistant_config",
        "addon_config"}  # fmt: skip
SIMPLE_TYPE = re.compile(r"^(str|bool|int|float|email|url|password|port|device)\??$")
RANGE_TYPE = re.compile(r"^(int|float)\(-?[\d.]*,-?[\d.]*\)\??$")
MATCH_TYPE = re.compile(r"^match\((.*)\)\??$")
LIST_TYPE = re.compile(r"^list\(([^)]*)\)\??$")
MQTT_SERVICE = {"host": "core-mosquitto", "port": 1883, "ssl": False, "username": "addons", "password": "pw"}

STUBS = r"""
_value() {
if command -v jq > /dev/null; then  # much faster than starting Python per call
    jq -r --arg k "$2" '.[$k] | if type == "array" then .[] elif . == null then empty else tostring end' "$1"
    return
fi
"$PYTHON" -c '
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
if isinstance(v, list): print("\n".join(map(str, v)))
elif isinstance(v, bool): print(str(v).lower())
elif v is not None: print(v)
' "$1" "$2"
}
bashio::config() { _value "$OPTIONS" "$1"; }
bashio::config.true() { [[ "$(bashio::config "$1")" == "true" ]]; }
bashio::config.has_value() { [[ -n "$(bashio::config "$1")" ]]; }
bashio::services.available() { [[ -s "$SERVICES" ]]; }
bashio::services() { _value "$SERVICES" "$2"; }
bashio::var.true() { [[ "$1" == "true" ]]; }
bashio::log.info() { :; }
bashio::log.warning() { echo "warning: $*" >&2; }
exec() { "$PYTHON" -c 'import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith("VOXHUB_")}))'; echo "$@" > "$COMMAND"; }
"""


def load(name: str) -> Any:
    return yaml.safe_load((ADDON / name).read_text())


def run_script(tmp_path: Path, options: dict[str, Any], mqtt: dict[str, Any] | None = MQTT_SERVICE
               ) -> tuple[dict[str, str], str, str]:  # fmt: skip
    """(VOXHUB_* environment, command, stderr) the run script would start the daemon with."""
    (tmp_path / "options.json").write_text(json.dumps(options))
    (tmp_path / "services.json").write_text(json.dumps(mqtt) if mqtt else "")
    (tmp_path / "stubs.sh").write_text(STUBS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env.update(PYTHON=sys.executable, OPTIONS=str(tmp_path / "options.json"), COMMAND=str(tmp_path / "cmd"),
               SERVICES=str(tmp_path / "services.json"))  # fmt: skip
    script = f'source "{tmp_path / "stubs.sh"}"; source "{S6 / "voxhub/run"}"'
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return (
        json.loads(done.stdout.strip().splitlines()[-1]),
        (tmp_path / "cmd").read_text().strip(),
        done.stderr,
    )


def settings(env: dict[str, str]) -> Settings:
    return load_settings(env=env)


def test_config_yaml_follows_the_addon_schema_rules() -> None:
    config = load("config.yaml")
    for key in ("name", "version", "slug", "description", "arch"):
        assert config.get(key), f"config.yaml needs {key}"
    assert re.fullmatch(r"[a-z0-9_]+", config["slug"])
    assert isinstance(config["version"], str)
    assert set(config["arch"]) <= ARCHES
    assert config["init"] is False, "s6-overlay v3 runs as PID 1: init must be false"
    assert "wyoming" in config["discovery"]
    assert all(re.fullmatch(r"[a-z_]+:(want|need|provide)", s) for s in config["services"])
    assert "mqtt:want" in config["services"]
    assert all(m.split(":")[0] in MAPS and m.partition(":")[2] in ("", "rw", "ro") for m in config["map"])
    for port, host_port in config["ports"].items():
        assert re.fullmatch(r"\d{1,5}/(tcp|udp)", port) and 0 < int(port.split("/")[0]) < 65536
        assert host_port is None or (isinstance(host_port, int) and 0 < host_port < 65536)
    assert "10200/tcp" in config["ports"]
    # The web UI in the sidebar: ingress to the daemon's HTTP port (the run script's VOXHUB_HTTP__PORT).
    assert config["ingress"] is True and config["panel_icon"].startswith("mdi:") and config["panel_title"]
    assert f"VOXHUB_HTTP__PORT={config['ingress_port']}" in (S6 / "voxhub/run").read_text()
    options, schema = config["options"], config["schema"]
    assert set(options) <= set(schema), "every option needs a schema entry"
    required = {k for k, v in schema.items() if not str(v[0] if isinstance(v, list) else v).endswith("?")}
    assert required <= set(options), "a required schema entry needs a default in options"
    for key, rule in schema.items():
        value = options.get(key)
        if isinstance(rule, list):
            assert len(rule) == 1 and isinstance(value, list), key
            for item in value:
                assert _fits(item, rule[0]), (key, item, rule[0])
        else:
            assert value is None or _fits(value, rule), (key, value, rule)


def _fits(value: Any, rule: str) -> bool:
    if m := LIST_TYPE.fullmatch(rule):
        return value in m.group(1).split("|")
    if m := MATCH_TYPE.fullmatch(rule):
        return isinstance(value, str) and re.fullmatch(m.group(1).strip("^$"), value) is not None
    if RANGE_TYPE.fullmatch(rule):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    assert SIMPLE_TYPE.fullmatch(rule), f"unknown schema type {rule!r}"
    kind = rule.rstrip("?")
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("int", "port"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def test_build_translations_and_s6_services_agree_with_config() -> None:
    config = load("config.yaml")
    assert set(load("build.yaml")["build_from"]) == set(config["arch"])
    labels = load("translations/en.yaml")
    assert set(labels["configuration"]) == set(config["schema"]), "every option needs a label"
    assert all(labels["configuration"][k]["name"] for k in config["schema"])
    assert set(labels["network"]) == set(config["ports"])
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert "FROM ${BUILD_FROM}" in dockerfile and "COPY rootfs /" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "adapters.wyoming.health tcp://127.0.0.1:10200" in dockerfile
    services = {p.name for p in (S6 / "user/contents.d").iterdir()}
    assert services == {"voxhub", "discovery"}
    assert (S6 / "voxhub/type").read_text().strip() == "longrun" and os.access(S6 / "voxhub/run", os.X_OK)
    assert (S6 / "discovery/type").read_text().strip() == "oneshot"
    assert (S6 / "discovery/dependencies.d/voxhub").exists()
    script = ADDON / "rootfs" / (S6 / "discovery/up").read_text().strip().lstrip("/")
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert 'bashio::discovery "wyoming"' in text and 'uri "tcp://$(hostname):10200"' in text
    assert "adapters.wyoming.health tcp://127.0.0.1:10200" in text  # announced only once it answers


def test_default_options_start_wyoming_piper_and_mqtt(tmp_path: Path) -> None:
    options = load("config.yaml")["options"]
    env, command, _ = run_script(tmp_path, options)
    assert command == "voxhub serve"
    s = settings(env)
    assert str(s.data_dir) == "/data"
    assert s.voices.default == options["default_voice"] and s.log.level == options["log_level"]
    assert [e.name for e in s.enabled_engines] == ["piper"]
    wyoming = s.adapters["wyoming"]
    assert wyoming.enabled and wyoming.options["uri"] == "tcp://0.0.0.0:10200"
    assert str(wyoming.options["zeroconf"]).lower() == "true"
    mqtt = s.adapters["mqtt"]
    assert mqtt.enabled and mqtt.options["url"] == "mqtt://core-mosquitto:1883"
    assert (mqtt.options["username"], mqtt.options["password"]) == ("addons", "pw")
    # Listening for the Supervisor's ingress; without an api_key only the Supervisor gets in.
    assert s.http.host == "0.0.0.0" and s.http.port == 8700 and not s.http.api_keys
    assert s.http.ingress_proxies == ("172.30.32.2",) and s.http.keys_required and s.http.ui


def _other(value: Any, rule: Any) -> Any:
    """A valid value for `rule` different from `value`."""
    if isinstance(rule, list):
        return ["fake"]
    if isinstance(value, bool):
        return not value
    if m := LIST_TYPE.fullmatch(rule):
        return next(choice for choice in m.group(1).split("|") if choice != value)
    return "other-value" if value != "other-value" else "another-value"


@pytest.mark.parametrize("option", list(load("config.yaml")["schema"]))
def test_every_option_reaches_the_daemon_settings(tmp_path: Path, option: str) -> None:
    config = load("config.yaml")
    defaults = {k: config["options"].get(k) for k in config["schema"]}
    changed = {**defaults, option: _other(defaults[option], config["schema"][option])}
    before, _, _ = run_script(tmp_path, defaults)
    after, _, _ = run_script(tmp_path, changed)
    a, b = settings(before), settings(after)
    assert a != b, f"option {option!r} changes nothing the daemon reads"
    value = changed[option]
    expected = {
        "default_voice": lambda: b.voices.default == value,
        "engines": lambda: [e.name for e in b.enabled_engines] == value,
        "log_level": lambda: b.log.level == value,
        "mqtt": lambda: b.adapters.get("mqtt") is None or not b.adapters["mqtt"].enabled,
        "zeroconf": lambda: str(b.adapters["wyoming"].options["zeroconf"]).lower() == str(value).lower(),
        "api_key": lambda: b.http.api_keys == (value,) and b.http.host == "0.0.0.0",
    }
    assert option in expected, f"add an expectation for the new option {option!r}"
    assert expected[option](), (option, env_diff(before, after))


def env_diff(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    return {
        k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)
    }


def test_mqtt_without_a_broker_stays_off_with_a_warning(tmp_path: Path) -> None:
    env, _, stderr = run_script(tmp_path, load("config.yaml")["options"], mqtt=None)
    s = settings(env)
    assert "mqtt" not in s.adapters or not s.adapters["mqtt"].enabled
    assert "no MQTT broker" in stderr


def test_docker_compose_example_configures_a_valid_daemon() -> None:
    compose = yaml.safe_load((REPO / "deploy/docker-compose.yml").read_text())
    service = compose["services"]["voxhub"]
    env = {k: re.sub(r"\$\{[^}]+\}", "secret", str(v)) for k, v in service["environment"].items()}
    dockerfile = (REPO / "deploy/Dockerfile").read_text()
    env.update(re.findall(r"(VOXHUB_\w+)=(\S+)", dockerfile))
    s = settings(env)
    assert s.adapters["wyoming"].enabled and s.adapters["wyoming"].options["uri"] == "tcp://0.0.0.0:10200"
    assert s.http.host == "0.0.0.0" and s.http.api_keys == ("secret",)
    assert {"10200:10200", "8700:8700"} <= {p.split("#")[0].strip() for p in service["ports"]}
