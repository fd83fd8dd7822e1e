"""The CLI: every command and option is documented, and the commands work without a daemon."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import soundfile as sf

from hub.cli import build_parser

REPO = Path(__file__).resolve().parents[2]


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*path, name))


def test_every_command_and_option_is_documented() -> None:
    readme = (REPO / "README.md").read_text()
    undocumented = []
    for path, parser in _walk(build_parser()):
        if path and not parser.description:
            undocumented.append(f"voxhub {' '.join(path)}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                undocumented += [
                    f"voxhub {' '.join((*path, n))}: no help" for n in action.choices if not helps.get(n)
                ]
            elif not action.help:
                undocumented.append(f"voxhub {' '.join(path)} {action.dest}: no help")
        if path and f"voxhub {' '.join(path)}" not in readme:
            undocumented.append(f"voxhub {' '.join(path)}: not in README.md")
    assert undocumented == []


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env["VOXHUB_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], cwd=REPO, env=env, capture_output=True, timeout=120
    )


def test_help_exits_zero_for_every_command(tmp_path: Path) -> None:
    for path, _ in _walk(build_parser()):
        result = run_cli(tmp_path, *path, "--help")
        assert result.returncode == 0 and b"usage: voxhub" in result.stdout, path


def test_say_writes_speech_without_a_daemon(tmp_path: Path) -> None:
    out = tmp_path / "hello.flac"
    result = run_cli(tmp_path, "say", "Hello from the command line.", "-o", str(out))
    assert result.returncode == 0, result.stderr.decode()
    info = sf.info(str(out))
    assert info.format == "FLAC" and 1.0 < info.frames / info.samplerate < 4.0
    piped = run_cli(tmp_path, "say", "Hi.", "--format", "wav")
    assert sf.info(io.BytesIO(piped.stdout)).frames > 0


def test_voices_list_and_config_errors(tmp_path: Path) -> None:
    listed = run_cli(tmp_path, "voices", "list")
    assert listed.returncode == 0 and b"en_US-joe-medium" in listed.stdout and b"preset" in listed.stdout
    bad = run_cli(tmp_path, "--config", str(tmp_path / "nope.toml"), "voices", "list")
    assert bad.returncode == 2 and b"does not exist" in bad.stderr
    missing = run_cli(tmp_path, "say", "Hi.", "--voice", "nobody")
    assert missing.returncode == 1 and b"voice 'nobody' not found" in missing.stderr


def test_bad_engine_option_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXHUB_")}
    env.update({"VOXHUB_DATA_DIR": str(tmp_path), "VOXHUB_ENGINES__PIPER__THREADS": "lots"})
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "serve", "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        b"configuration error: engines.piper.threads = 'lots' is not valid: use an integer >= 0"
        in result.stderr
    )
