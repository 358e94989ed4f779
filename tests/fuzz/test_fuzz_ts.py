"""Fuzz the MPEG-TS demuxer (SRT/UDP ingest will feed it garbage): it never raises, and whatever
the muxer writes comes back frame for frame."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.format import m3u8, ts
from srs.format.ts import StreamType, TsDemuxer, TsMuxer, TsStream
from srs.util.errors import ParseError

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
V = TsStream(ts.VIDEO_PID, StreamType.H264)
A = TsStream(ts.AUDIO_PID, StreamType.AAC)
_M = TsMuxer([V, A])
SEED = (
    _M.tables()
    + _M.frame(V.pid, bytes(range(256)) * 3, 3600, 0, key=True)
    + _M.frame(A.pid, b"\xff\xf1" * 40, 10)
)


@FUZZ
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=400))
@example(SEED, 188)
@example(SEED[:-1] + b"\x47" * 400, 7)
@example(b"\x47" + bytes(187) + b"\x47\x1f\xff\x20\xb7" + bytes(183), 188)  # AF length 183, no payload
def test_demuxer_never_raises(data: bytes, step: int) -> None:
    d = TsDemuxer()
    for i in range(0, len(data), step):
        d.feed(data[i : i + step])
    d.flush()


@FUZZ
@given(st.binary(max_size=3000), st.integers(min_value=0, max_value=400))
def test_mutated_streams_never_raise(noise: bytes, at: int) -> None:
    d = TsDemuxer()
    at = min(at, len(SEED))
    d.feed(SEED[:at] + noise + SEED[at:])
    d.flush()


@FUZZ
@given(
    st.lists(
        st.tuples(st.booleans(), st.binary(max_size=2000), st.integers(min_value=0, max_value=(1 << 33) - 1)),
        max_size=12,
    )
)
def test_what_the_muxer_writes_comes_back(frames: list[tuple[bool, bytes, int]]) -> None:
    m = TsMuxer([V, A])
    data = m.tables() + b"".join(m.frame(V.pid if v else A.pid, p, t, key=v) for v, p, t in frames)
    d = TsDemuxer()
    got = d.feed(data) + d.flush()
    assert d.errors == 0
    assert [(f.pid == V.pid, f.payload, f.pts) for f in got] == frames


LL_SEED = m3u8.MediaPlaylist(
    [
        m3u8.Segment(
            "a-3.m4s",
            1.0,
            3,
            key=m3u8.Key("k.key", bytes(16)),
            parts=(m3u8.Part("a-3.0.m4s", 0.2, True),),
            date_ms=1_700_000_000_000,
        )
    ],
    map_uri="a-init.mp4",
    part_target_s=0.2,
    part_hold_back_s=0.6,
    tail_parts=(m3u8.Part("a-4.0.m4s", 0.2),),
    tail_date_ms=1_700_000_001_000,
    preload_hint="a-4.1.m4s",
).render()


@FUZZ
@given(st.integers(min_value=0, max_value=len(LL_SEED) - 1), st.text(max_size=3))
def test_m3u8_parser_with_ll_hls_tags_mutated(at: int, insert: str) -> None:
    try:
        m3u8.parse(LL_SEED[:at] + insert + LL_SEED[at + 1 :])
    except ParseError:
        pass


@FUZZ
@given(st.text(max_size=500))
@example(LL_SEED)
@example('#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI="k,IV=0x00\n')
@example("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:99999-01-01T00:00:00.000Z\n")
@example("#EXTM3U\n#EXTINF:abc,\nx.ts\n")
@example("#EXTM3U\nx.ts\n")
@example("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:\n")
def test_m3u8_parser_raises_only_parse_errors(text: str) -> None:
    try:
        m3u8.parse(text)
    except ParseError:
        pass
