"""Settings: defaults, user file, environment, and errors that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import DEFAULTS_FILE, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_packaged_defaults_are_the_documented_config() -> None:
    assert DEFAULTS_FILE.read_text() == (REPO / "config" / "voxhub.toml").read_text()


def test_defaults() -> None:
    s = load_settings(env={"VOXHUB_DATA_DIR": "/tmp/vx"})
    assert s.http.host == "127.0.0.1" and s.http.port == 8700
    assert s.data_dir == Path("/tmp/vx") and s.db_path == Path("/tmp/vx/voxhub.db")
    assert [e.name for e in s.enabled_engines] == ["piper"]
    assert s.voices.aliases["alloy"] == s.voices.default == "en_US-joe-medium"
    assert not s.http.keys_required


def test_user_file_then_environment_override(tmp_path: Path) -> None:
    user = tmp_path / "my.toml"
    user.write_text('[http]\nport = 9000\nhost = "127.0.0.2"\n[engines.piper]\nidle_ttl_s = 5\nthreads = 2\n')
    s = load_settings(user, env={"VOXHUB_HTTP__PORT": "8701", "VOXHUB_ENGINES__PIPER__WORKERS": "2"})
    assert s.http.port == 8701 and s.http.host == "127.0.0.2"
    piper = s.engines["piper"]
    assert piper.idle_ttl_s == 5.0 and piper.workers == 2 and piper.options["threads"] == 2
    with pytest.raises(TypeError):
        piper.options["threads"] = 3  # type: ignore[index]


def test_env_lists_and_bools() -> None:
    s = load_settings(env={"VOXHUB_HTTP__API_KEYS": "a, b", "VOXHUB_CACHE__ENABLED": "no"})
    assert s.http.api_keys == ("a", "b") and s.cache.enabled is False


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"VOXHUB_HTTP__PORT": "eighty"}, "http.port = 'eighty' is not a valid int"),
        ({"VOXHUB_HTTP__PORT": "70000"}, "http.port = 70000 is not a TCP port"),
        ({"VOXHUB_HTTP__HOST": "0.0.0.0"}, "http.api_keys is empty"),
        ({"VOXHUB_HTTP__REQUIRE_API_KEY": "sometimes"}, "http.require_api_key = 'sometimes' is not valid"),
        ({"VOXHUB_HTTP__COLOUR": "blue"}, "unknown key(s) http.colour"),
        ({"VOXHUB_LOG__LEVEL": "loud"}, "log.level = 'loud'"),
        ({"VOXHUB_ENGINES__NOPE__ENABLED": "true"}, "[engines.nope] names an unknown engine"),
        ({"VOXHUB_ENGINES__PIPER__ENABLED": "false"}, "no engine is enabled"),
        ({"VOXHUB_ENGINES__PIPER__PYTHON": "/no/such/python"}, "does not exist"),
        ({"VOXHUB_CACHE__ENABLED": "maybe"}, "cache.enabled = 'maybe' is not a valid bool"),
        (
            {"VOXHUB_ENROLL__ANALYSIS_IDLE_TTL_S": "-1"},
            "enroll.analysis_idle_ttl_s must be >= 0 (0 = never exit)",
        ),
    ],
)
def test_invalid_settings_name_the_key(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    assert needle in str(info.value)


def test_non_loopback_with_keys_is_fine() -> None:
    s = load_settings(env={"VOXHUB_HTTP__HOST": "0.0.0.0", "VOXHUB_HTTP__API_KEYS": "k"})
    assert s.http.keys_required


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[http\nport = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})
