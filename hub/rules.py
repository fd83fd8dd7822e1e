"""What a request may ask for, each rule defined and checked once, with one wording on every surface.

Output formats, speaking rate, voice names and text length: the HTTP API, the CLI, Wyoming, MQTT, Discord,
Slack and long-form jobs all check through these functions (with their own field name as `param`), so a
rule changes in one place. Light on purpose: the facade (hub.api) re-exports it for adapters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from hub.errors import EmptyText, InvalidRequest, InvalidVoiceName, TextTooLong, UnsupportedFormat

OUTPUT_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
"""Audio files a synthesis can be written as (hub.audio encodes each of them)."""
MIN_SPEED, MAX_SPEED = 0.25, 4.0
"""Speaking rate: 1.0 is the voice's own, 2.0 twice as fast (OpenAI's range)."""
VOICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
VOICE_NAME_RULE = (
    "voice names are 1-64 characters: ASCII letters, digits, '-', '_' or '.', "
    "starting with a letter or digit, without '..'"
)


def check_format(
    fmt: object, *, param: str = "response_format", allowed: tuple[str, ...] = OUTPUT_FORMATS
) -> str:
    """`fmt` if it is one of `allowed` (default: every output format), else UnsupportedFormat naming them."""
    if not isinstance(fmt, str) or fmt not in allowed:
        raise UnsupportedFormat(
            f"{param} {fmt!r} is not supported: use one of {', '.join(allowed)}", param=param
        )
    return fmt


def check_speed(value: object, *, param: str = "speed") -> float:
    """`value` as a float within MIN_SPEED..MAX_SPEED, else InvalidRequest stating the range."""
    problem = f"`{param}` must be a number from {MIN_SPEED} to {MAX_SPEED}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{problem}, got {type(value).__name__}", param=param)
    try:
        speed = float(value)
    except OverflowError:  # a JSON integer beyond any float
        speed = math.inf
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidRequest(f"{problem}, got {value if speed != math.inf else 'a huge number'}", param=param)
    return speed


def check_voice_name(name: object, *, param: str = "name") -> str:
    """`name` if it is a valid name for a new voice, else InvalidVoiceName stating the rule."""
    # The name ends up in URLs, file names and log lines: no separators, no dot-files, no `..`.
    if not isinstance(name, str) or not VOICE_NAME.fullmatch(name) or ".." in name:
        raise InvalidVoiceName(f"invalid voice name {name!r}: {VOICE_NAME_RULE}", param=param)
    return name


def check_text(text: object, *, max_chars: int, param: str = "input", setting: str = "text.max_chars") -> str:
    """`text` if it has something to say within `max_chars`, else EmptyText / TextTooLong saying the fix.
    `setting` names the limit a user can raise (an adapter's own, e.g. adapters.slack.max_chars)."""
    if not isinstance(text, str):
        raise InvalidRequest(f"`{param}` must be a string: the text to speak", param=param)
    if not text.strip():
        raise EmptyText(f"{param} is empty: send the text to speak in `{param}`", param=param)
    if len(text) > max_chars:
        raise TextTooLong(
            f"{param} is {len(text)} characters, over the limit of {max_chars}: "
            f"split the text into several requests, or raise {setting}",
            param=param,
        )
    return text


def check_engine(
    name: str, enabled: Sequence[str], *, param: str = "engine", also: Sequence[str] = ()
) -> str:
    """`name` if it is an enabled engine, else InvalidRequest listing them (and `also`, a surface's other names)."""
    if name not in enabled:
        choices = ", ".join([*enabled, *also])
        raise InvalidRequest(f"{param} {name!r} is not an enabled engine: use one of {choices}", param=param)
    return name
