"""Fuzz the HTTP VOD helpers: the FLV head scanner and SRS's range/start parsers.

Only SrsError subclasses may escape, and every answer stays inside the file: the spans the response
is made of lie within ``[0, size)`` and add up to its Content-Length.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.format import flv
from srs.server.vod import atoll, flv_start, parse_query_range, plan_flv_start, scan_flv_head
from srs.util.errors import SrsError
from unit.codec.samples import clip_bytes

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_V = flv.encode_tag(9, 0, b"\x17\x00\x00\x00\x00" + b"v" * 8)
_A = flv.encode_tag(8, 0, b"\xaf\x00\x12\x10")
_S = flv.encode_tag(18, 0, flv.script_body("onMetaData", {"duration": 1.0}))
SEEDS = [
    clip_bytes("bbb.flv")[:1200],
    clip_bytes("avatar.flv")[:1500],
    flv.header(True, True) + _S + _V + _A + _V,
    flv.header(False, True) + _A + _A,
    flv.header(True, False),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if data and draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


FILES = st.one_of(
    st.binary(max_size=200), st.builds(lambda b: b"FLV" + b, st.binary(max_size=200)), mutated()
)


@FUZZ
@given(FILES, st.integers(-10, 3000))
def test_flv_head_scan_and_plan(data: bytes, offset: int) -> None:
    def read_at(pos: int, n: int) -> bytes:
        assert pos >= 0 and n > 0
        return data[pos : pos + n]

    try:
        head = scan_flv_head(read_at, len(data))
    except SrsError:
        return
    assert 13 <= head.header_size <= head.sh_start <= head.sh_end <= len(data)
    if offset <= 0:
        return
    plan = plan_flv_start(offset, len(data), read_at)
    if offset > len(data):
        assert plan.status == 416 and plan.pieces() == []
        return
    pieces = plan.pieces()
    assert all(p >= 0 and n > 0 and p + n <= len(data) for p, n in pieces)
    assert sum(n for _, n in pieces) == plan.content_length
    assert pieces[0] == (0, head.header_size)


@FUZZ
@given(
    st.one_of(st.text(max_size=40), st.from_regex(r"(bytes=)?[ +-]?\d{0,25}-[ +-]?\d{0,25}", fullmatch=True))
)
def test_query_range_and_start(value: str) -> None:
    rng = parse_query_range(value)
    if rng is not None:
        assert rng.start >= 0 and (rng.end is None or rng.end >= rng.start)
        assert rng.header().startswith("bytes=")
    assert -(1 << 63) <= atoll(value) < (1 << 63)
    assert flv_start({"start": value}) >= 0
