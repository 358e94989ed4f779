"""Fuzz Opus in TS: the control header / access unit parser raises only ParseError and reads back what
the writer makes; the descriptor readers never raise; TS ingest of Opus (garbage packets, corrupted
streams) never raises and makes only AAC messages classified as media_from_rtmp classifies them."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.format import ts
from srs.format.ts import StreamType, TsStream, iter_descriptors
from srs.format.ts_opus import (
    MAX_TRIM,
    OpusAccessUnit,
    descriptors,
    iter_access_units,
    pack_access_units,
    parse_control_header,
)
from srs.media.message import AUDIO
from srs.remux.rtmp import media_from_rtmp
from srs.remux.ts_in import TsIngest
from srs.util.errors import ParseError
from unit.remux.test_ts_in_opus import opus_packets, opus_ts

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SEED = opus_ts(descriptors(1), opus_packets("mono", 0.3), video=True)
SEED_STEREO = opus_ts(b"\x05\x04Opus", opus_packets("stereo", 0.3), per_pes=2)


@FUZZ
@given(st.binary(max_size=600), st.integers(min_value=0, max_value=8))
@example(b"\x7f\xf0\xff\x2d\x01\x38", 0)
@example(b"\x7f\xe4\x10\xff", 0)
def test_parsers_raise_only_parse_error(data: bytes, pos: int) -> None:
    try:
        size, start, end, i = parse_control_header(data, pos)
        assert size >= 0 and 0 <= start <= MAX_TRIM and 0 <= end <= MAX_TRIM and pos + 3 <= i <= len(data)
    except ParseError:
        pass
    got = []
    try:
        for u in iter_access_units(data):
            got.append(u)
    except ParseError:
        pass
    assert sum(len(u.packet) for u in got) <= len(data)
    for tag, body in iter_descriptors(data):
        assert 0 <= tag <= 255 and len(body) <= 255
    s = TsStream(0x100, StreamType.PRIVATE_PES, data)
    assert isinstance(s.is_opus, bool) and s.opus_channel_config in (None, *range(256))
    assert s.registration is None or len(s.registration) == 4


@FUZZ
@given(
    st.lists(
        st.builds(
            OpusAccessUnit,
            st.binary(min_size=1, max_size=800),
            st.integers(0, MAX_TRIM),
            st.integers(0, MAX_TRIM),
        ),
        max_size=8,
    )
)
def test_what_the_writer_packs_comes_back(units: list[OpusAccessUnit]) -> None:
    assert list(iter_access_units(pack_access_units(units))) == units


def _run(data: bytes, step: int) -> None:
    ing = TsIngest(wait_ms=100, keyframe_wait_ms=200)
    out = []
    for i in range(0, len(data), step):
        out += ing.feed(data[i : i + step])
    out += ing.flush()
    for m in out:
        c = media_from_rtmp(m.kind, m.timestamp, m.payload)
        assert c is not None
        assert (c.keyframe, c.sequence_header, c.codec) == (m.keyframe, m.sequence_header, m.codec)
        assert m.timestamp >= 0
        if m.kind == AUDIO:
            assert m.payload[0] == 0xAF  # AAC, 44 kHz flag, 16-bit, stereo flag (FLV's fixed AAC byte)


@FUZZ
@given(
    st.lists(st.binary(min_size=1, max_size=120), min_size=1, max_size=12),
    st.sampled_from([descriptors(1), descriptors(2), b"\x05\x04Opus"]),
    st.integers(min_value=1, max_value=4),
)
def test_ingest_of_garbage_opus_packets_never_raises(
    packets: list[bytes], es_info: bytes, per_pes: int
) -> None:
    _run(opus_ts(es_info, tuple(packets), per_pes=per_pes), 188)


@FUZZ
@given(
    st.sampled_from([SEED, SEED_STEREO]),
    st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 255)), max_size=30),
    st.integers(min_value=1, max_value=600),
)
@example(SEED, [], 188)
@example(SEED_STEREO, [], 1316)
def test_ingest_survives_corrupted_opus_streams(seed: bytes, flips: list[tuple[int, int]], step: int) -> None:
    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    _run(bytes(data), step)


def test_seeds_carry_opus() -> None:
    for seed in (SEED, SEED_STEREO):
        d = ts.TsDemuxer()
        d.feed(seed)
        assert d.streams[ts.AUDIO_PID].is_opus
