"""`voxhub models list|pull` has one path: every model source named in engines.MODEL_SOURCES is listed and pulled
by the same command code, through the one interface (engines.core.model_sources.ModelSource)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import engines
from engines.core.model_sources import ModelContext, ModelSource, by_name, load_sources
from engines.core.models import MODELS
from hub.cli import main
from hub.models import sources


class FakeSource:
    """A source the CLI has never heard of: what it lists and pulls must come from here."""

    engine = "fake"

    def __init__(self) -> None:
        self.pulled: list[tuple[str, ModelContext]] = []

    def names(self) -> list[str]:
        return ["fake-one", "fake-two"]

    def rows(self, context: ModelContext) -> list[dict[str, Any]]:
        where = str(context.model_dir(context.data_dir))
        return [{"name": name, "installed": False, "where": where} for name in self.names()]

    def lines(self, rows: list[dict[str, Any]], context: ModelContext) -> list[str]:
        return [f"{row['name']} lives in {row['where']}" for row in rows]

    def pull(self, name: str, context: ModelContext, log: Callable[[str], None]) -> str:
        self.pulled.append((name, context))
        log(f"fetching {name}")
        return f"{name} pulled"


FAKE = FakeSource()


@pytest.fixture
def with_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSource:
    for key in [k for k in os.environ if k.startswith("VOXHUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VOXHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VOXHUB_ENGINES__FAKE__MODEL_DIR", str(tmp_path / "fake-models"))
    monkeypatch.setitem(engines.MODEL_SOURCES, "fake", f"{__name__}:FAKE")
    FAKE.pulled.clear()
    return FAKE


def test_every_source_implements_the_one_interface_and_the_names_form_one_table() -> None:
    loaded = sources()
    assert list(loaded) == list(engines.MODEL_SOURCES)
    assert all(isinstance(source, ModelSource) for source in loaded.values())
    assert list(by_name(loaded)) == ["zipvoice", "zipvoice-distill", "pocket-tts", *MODELS]
    assert any(name.startswith("whisper-") for name in MODELS)  # the hub's models are in the registry


def test_a_name_claimed_by_two_sources_is_refused() -> None:
    with pytest.raises(ValueError, match="'fake-one' is offered by two model sources"):
        by_name({"a": FAKE, "b": FAKE})


def test_a_source_in_the_table_is_listed_and_pulled_by_the_same_command(
    with_fake: FakeSource, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows if r["name"].startswith("fake")] == ["fake-one", "fake-two"]
    assert {r["name"] for r in rows} >= {"zipvoice-distill", "pocket-tts", "whisper-base"}

    assert main(["models", "list"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert f"fake-two lives in {tmp_path / 'fake-models'}" in table  # the engine's model_dir reached it
    assert any(line.startswith("zipvoice-distill   fp32") for line in table)

    assert main(["models", "pull", "fake-two", "--token", "hf_x", "--precision", "int8"]) == 0
    said = capsys.readouterr().err
    assert "fetching fake-two" in said and "fake-two pulled" in said
    [(name, context)] = with_fake.pulled
    assert (name, context.data_dir) == ("fake-two", tmp_path)
    assert (context.token, context.precision) == ("hf_x", "int8")
    assert context.options["model_dir"] == str(tmp_path / "fake-models")


def test_an_unknown_name_lists_every_sources_names_and_pulls_nothing(
    with_fake: FakeSource, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "pull", "zipvoice3"]) == 2
    said = capsys.readouterr().err
    known = [name for source in load_sources(engines.MODEL_SOURCES).values() for name in source.names()]
    assert f"unknown model 'zipvoice3': use one of {', '.join(known)}" in said
    assert "fake-one, fake-two" in said and "pocket-tts" in said and "whisper-tiny" in said
    assert with_fake.pulled == []
