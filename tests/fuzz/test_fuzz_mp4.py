"""Fuzz the MP4 reader: whatever bytes arrive, only ParseError escapes."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.format import mp4
from srs.util.errors import ParseError

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TRACKS = [
    mp4.Track(1, mp4.VIDE, 1000, "avc1", b"\x01\x64\x00\x1f", 320, 240),
    mp4.Track(2, mp4.SOUN, 48000, "mp4a", b"\x11\x90", sample_rate=48000),
]
SEED = mp4.init_segment(TRACKS) + mp4.fragment(
    1, [mp4.Run(1, 0, [mp4.Sample(40, b"v" * 9, True, 40)]), mp4.Run(2, 0, [mp4.Sample(1024, b"a" * 4)])]
)


@FUZZ
@given(st.binary(max_size=2000))
@example(SEED)
@example(SEED[:200])
def test_reader_only_raises_parse_error(data: bytes) -> None:
    for read in (mp4.read_init, mp4.read_fragments):
        try:
            read(data)
        except ParseError:
            pass


@FUZZ
@given(st.integers(min_value=0, max_value=len(SEED) - 1), st.integers(min_value=0, max_value=255))
def test_one_corrupted_byte(at: int, value: int) -> None:
    data = SEED[:at] + bytes([value]) + SEED[at + 1 :]
    for read in (mp4.read_init, mp4.read_fragments):
        try:
            read(data)
        except ParseError:
            pass
