"""Fuzz the MPD reader: whatever text arrives, only ParseError escapes."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.format import mpd
from srs.util.errors import ParseError

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SEED = mpd.Mpd(
    1_700_000_000_000,
    1_700_000_005_000,
    5.0,
    30.0,
    4.0,
    "s/",
    [mpd.Representation("video", "avc1.64001f", 800_000, 3, ((0, 2000), (2000, 2000)), 640, 360)],
).render()


@FUZZ
@given(st.text(max_size=2000))
@example(SEED)
@example(SEED.replace('t="0"', 't="x"'))
@example(SEED.replace("PT5.000S", "P5S"))
@example(SEED.replace("2023-11-14T22:13:20Z", "9999-99-99T99:99:99Z"))
def test_reader_only_raises_parse_error(text: str) -> None:
    try:
        mpd.parse(text)
    except ParseError:
        pass


@FUZZ
@given(st.integers(min_value=0, max_value=len(SEED) - 1), st.characters())
def test_one_changed_character(at: int, ch: str) -> None:
    try:
        mpd.parse(SEED[:at] + ch + SEED[at + 1 :])
    except ParseError:
        pass
