"""parse_section: one coercion for settings and engine options (env strings, bool words), and field choices."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from hub.errors import ConfigError
from hub.settings import parse_section


@dataclass(frozen=True)
class Sample:
    mode: str = field(default="auto", metadata={"choices": ("auto", "http")})
    workers: int = 1
    ratio: float = 0.5
    on: bool = False


def test_environment_strings_become_the_field_types() -> None:
    parsed = parse_section(Sample, "x", {"mode": "http", "workers": " 3 ", "ratio": "2", "on": "Yes"})
    assert parsed == Sample(mode="http", workers=3, ratio=2.0, on=True)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "socket"}, "x.mode = 'socket' is not valid: use one of auto, http"),
        ({"mode": 3}, "x.mode = 3 is not a valid str"),
        ({"workers": ""}, "x.workers = '' is not a valid int"),
        ({"workers": 1.5}, "x.workers = 1.5 is not a valid int"),
        ({"workers": True}, "x.workers = True is not a valid int"),
        ({"ratio": "inf"}, "x.ratio = 'inf' is not a valid float"),
        ({"on": "maybe"}, "x.on = 'maybe' is not a valid bool"),
        ({"colour": "blue"}, "unknown key(s) x.colour"),
    ],
)
def test_bad_values_name_the_key(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_section(Sample, "x", values)
    assert message in str(caught.value)
