"""Fuzz the GB28181 media path: the PS demuxer, the PS -> messages remux and the RTP parser never
raise on any input (a device or an attacker may send anything to the media port)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.format.ps import PsDemuxer
from srs.remux.gb_in import GbIngest, parse_rtp
from support.gb_device import G711A, H265, PsMuxer, pack_header, pes, ps_stream, psm
from support.media import clip

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_M = PsMuxer()
SEED = b"".join(ps for ms, ps in ps_stream(Path(clip("bbb.flv"))) if ms < 200)
SEED_HEVC = PsMuxer(H265, G711A).video(b"\x00\x00\x00\x01\x40\x01\x0c" * 5, 0, 0, key=True) + pes(
    0xC0, b"\xd5" * 160, 0
)


@FUZZ
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=500))
@example(SEED[:3000], 1400)
@example(SEED_HEVC, 3)
@example(pack_header(0) + psm(0x1B, 0x0F) + b"\x00\x00\x01\xe0\x00\x00", 7)
@example(pack_header(0) + b"\x00\x00\x01\xbc\x00\x02\xe0\xff", 1)
def test_demuxer_never_raises(data: bytes, step: int) -> None:
    d = PsDemuxer()
    for i in range(0, len(data), step):
        d.feed(data[i : i + step])
    d.flush()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.binary(min_size=1, max_size=8)), max_size=12))
def test_mutated_stream_never_raises(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(SEED)
    for pos, b in edits:
        data[pos : pos + len(b)] = b
    g = GbIngest()
    for i in range(0, len(data), 1400):
        g.feed(bytes(data[i : i + 1400]))
    g.flush()


@FUZZ
@given(st.binary(max_size=200))
@example(SEED_HEVC[:200])
def test_g711_and_hevc_never_raise(data: bytes) -> None:
    g = GbIngest()
    g.feed(SEED_HEVC + data)
    g.feed(pack_header(9000) + psm(0x24, 0x90) + pes(0xC0, data or b"\x00", 9000))
    g.flush()


@FUZZ
@given(st.binary(max_size=100))
def test_rtp_parser_never_raises(data: bytes) -> None:
    got = parse_rtp(data)
    assert got is None or (0 <= got[0] <= 0xFFFFFFFF and isinstance(got[1], bytes))
