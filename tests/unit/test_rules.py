"""hub.rules: each rule accepts and refuses what it says, in one wording, and the callers use it."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from engines.core.interface import AudioChunk
from hub import audio, rules, text
from hub.cli import build_parser
from hub.errors import EmptyText, InvalidRequest, InvalidVoiceName, TextTooLong, UnsupportedFormat
from hub.jobs import audio as jobaudio
from hub.jobs import text as jobtext

FORMATS_LISTED = "mp3, opus, aac, flac, wav, pcm"

# --- output formats ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_output_format_is_accepted(fmt: str) -> None:
    assert rules.check_format(fmt) == fmt


@pytest.mark.parametrize("fmt", ["ogg", "MP3", "", None, 3, ["mp3"]])
def test_other_formats_are_refused_listing_the_supported_ones(fmt: object) -> None:
    with pytest.raises(UnsupportedFormat) as err:
        rules.check_format(fmt)
    assert err.value.message == f"response_format {fmt!r} is not supported: use one of {FORMATS_LISTED}"
    assert err.value.param == "response_format"


def test_format_names_its_own_param_and_allowed_subset() -> None:
    assert rules.check_format("opus", param="format", allowed=("mp3", "opus")) == "opus"
    with pytest.raises(UnsupportedFormat) as err:
        rules.check_format("wav", param="format", allowed=("mp3", "opus"))
    assert err.value.message == "format 'wav' is not supported: use one of mp3, opus"
    assert err.value.param == "format"


# --- speed -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.25, 1, 1.0, 2.5, 4, 4.0])
def test_speeds_in_range_are_accepted_as_floats(value: float) -> None:
    speed = rules.check_speed(value)
    assert speed == value and type(speed) is float


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (0.24, "0.24"),
        (4.01, "4.01"),
        (0, "0"),
        (-1, "-1"),
        (9, "9"),
        (math.inf, "a huge number"),
        (10**400, "a huge number"),
        (math.nan, "nan"),
        (True, "bool"),
        (False, "bool"),
        ("1.0", "str"),
        (None, "NoneType"),
    ],
)
def test_speeds_out_of_range_or_not_numbers_are_refused_stating_the_range(value: object, got: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        rules.check_speed(value)
    assert err.value.message == f"`speed` must be a number from 0.25 to 4.0, got {got}"
    assert err.value.param == "speed"


def test_speed_names_its_own_param() -> None:
    with pytest.raises(InvalidRequest) as err:
        rules.check_speed(5, param="rate")
    assert err.value.message.startswith("`rate` must be a number from 0.25 to 4.0")
    assert err.value.param == "rate"


# --- voice names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mum", "a", "Dad-2", "anna_v2.1", "9lives", "x" * 64])
def test_valid_voice_names_are_accepted(name: str) -> None:
    assert rules.check_voice_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-mum", ".hidden", "_x", "a..b", "a/b", "a b", "mum\n", "x" * 65, "müm", None, 7]
)
def test_invalid_voice_names_are_refused_stating_the_rule(name: object) -> None:
    with pytest.raises(InvalidVoiceName) as err:
        rules.check_voice_name(name, param="voice")
    assert err.value.message == f"invalid voice name {name!r}: {rules.VOICE_NAME_RULE}"
    assert "1-64 characters" in err.value.message and "without '..'" in err.value.message
    assert err.value.param == "voice"


# --- text --------------------------------------------------------------------------------------------------


def test_text_within_the_limit_is_accepted() -> None:
    assert rules.check_text("Hello.", max_chars=6) == "Hello."


@pytest.mark.parametrize("value", ["", "   ", "\n\t"])
def test_empty_text_is_refused(value: str) -> None:
    with pytest.raises(EmptyText) as err:
        rules.check_text(value, max_chars=100)
    assert err.value.message == "input is empty: send the text to speak in `input`"
    assert err.value.param == "input"


def test_long_text_is_refused_naming_the_limit_and_the_setting() -> None:
    with pytest.raises(TextTooLong) as err:
        rules.check_text("x" * 11, max_chars=10)
    assert err.value.message == (
        "input is 11 characters, over the limit of 10: split the text into several requests, "
        "or raise text.max_chars"
    )
    with pytest.raises(TextTooLong) as err:
        rules.check_text("x" * 11, max_chars=10, param="text", setting="adapters.slack.max_chars")
    assert (
        err.value.message.startswith("text is 11 characters")
        and "adapters.slack.max_chars" in err.value.message
    )
    assert err.value.param == "text"


@pytest.mark.parametrize("value", [None, 5, b"hi"])
def test_text_that_is_not_a_string_is_refused(value: object) -> None:
    with pytest.raises(InvalidRequest) as err:
        rules.check_text(value, max_chars=100)
    assert err.value.message == "`input` must be a string: the text to speak"


# --- the callers use the rules -----------------------------------------------------------------------------


def test_audio_encoders_refuse_with_the_format_rule() -> None:
    for call in (
        lambda: audio.encode("ogg", AudioChunk(22050, 2, 1, b"")),
        lambda: audio.open_encoder("ogg", 22050),
    ):
        with pytest.raises(UnsupportedFormat) as err:
            call()
        assert err.value.message == f"response_format 'ogg' is not supported: use one of {FORMATS_LISTED}"
    assert set(audio.CONTENT_TYPES) == set(rules.OUTPUT_FORMATS)


def test_text_prepare_refuses_with_the_text_rule() -> None:
    with pytest.raises(TextTooLong) as err:
        text.prepare("x" * 11, max_chars=10)
    assert err.value.message.startswith("input is 11 characters, over the limit of 10")
    with pytest.raises(EmptyText, match="input is empty: send the text to speak in `input`"):
        text.prepare("  ", max_chars=10)


def test_job_formats_are_the_containers_and_every_output_format() -> None:
    assert ("m4b", "m4a", "zip", *rules.OUTPUT_FORMATS) == jobaudio.JOB_FORMATS
    assert set(jobaudio.CONTAINER_TYPES) == {"m4b", "m4a", "zip"}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("book.md", "markdown"),
        ("book.MARKDOWN", "markdown"),
        ("b.epub", "epub"),
        ("b.txt", "text"),
        ("b", "text"),
    ],
)
def test_job_input_format_comes_from_the_one_table(name: str, kind: str) -> None:
    assert jobtext.input_format_of(Path(name)) == kind
    assert kind in jobtext.INPUT_FORMATS


def _subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def test_cli_format_choices_are_the_output_formats() -> None:
    say = _subparser(build_parser(), "say")
    assert next(a for a in say._actions if a.dest == "format").choices == rules.OUTPUT_FORMATS
    for path in (("job", "submit"), ("job", "fetch")):
        fmt = next(a for a in _subparser(build_parser(), *path)._actions if a.dest == "format")
        assert fmt.choices == jobaudio.JOB_FORMATS


@pytest.mark.parametrize(
    ("command", "speed", "got"),
    [
        (("say", "hi"), "9", "9.0"),
        (("say", "hi"), "0.1", "0.1"),
        (("say", "hi"), "fast", "str"),
        (("say", "hi"), "1e400", "a huge number"),
        (("job", "submit", "book.md"), "9", "9.0"),
    ],
)
def test_cli_speed_is_refused_in_the_rule_wording(
    command: tuple[str, ...], speed: str, got: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--speed", speed])
    assert exit_.value.code != 0
    assert (
        f"argument --speed: `speed` must be a number from 0.25 to 4.0, got {got}" in capsys.readouterr().err
    )


def test_cli_speed_in_range_is_a_float() -> None:
    assert build_parser().parse_args(["say", "hi", "--speed", "4"]).speed == 4.0
    assert build_parser().parse_args(["job", "submit", "b.md", "--speed", "0.25"]).speed == 0.25
