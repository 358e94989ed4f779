"""Fuzz the TS ingest (SRT and UDP publishers send garbage and lose packets): nothing escapes feed()
or flush(), and every message it makes is classified as media_from_rtmp classifies its payload."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from srs.codec import aac
from srs.codec.nalu import to_annexb
from srs.format import ts
from srs.format.ts import StreamType, TsMuxer, TsStream
from srs.remux.rtmp import media_from_rtmp
from srs.remux.ts_in import TsIngest

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SPS = bytes.fromhex("6764001facd9405005bb011000000300100000030320f1831960")
PPS = bytes.fromhex("68ebe3cb22c0")


def _seed(video_type: int = StreamType.H264, audio_type: int = StreamType.AAC) -> bytes:
    m = TsMuxer([TsStream(ts.VIDEO_PID, video_type), TsStream(ts.AUDIO_PID, audio_type)])
    cfg = aac.parse_asc(aac.build_asc(2, 44100, 2))
    out = m.tables()
    for i in range(6):
        body = to_annexb([SPS, PPS, b"\x65" + bytes(300)] if i % 3 == 0 else [b"\x41" + bytes(50)])
        out += m.frame(ts.VIDEO_PID, body, i * 3600 + 3600, i * 3600, key=i % 3 == 0)
        out += m.frame(ts.AUDIO_PID, (aac.build_adts(cfg, 20) + b"\x21" * 20) * 2, i * 3600)
    return out


SEED = _seed()
SEED_MP3 = _seed(audio_type=StreamType.MP3)


def _run(data: bytes, step: int) -> None:
    ing = TsIngest(wait_ms=100, keyframe_wait_ms=200)
    out = []
    for i in range(0, len(data), step):
        out += ing.feed(data[i : i + step])
    out += ing.flush()
    for m in out:
        c = media_from_rtmp(m.kind, m.timestamp, m.payload)
        assert c is not None and (c.keyframe, c.sequence_header, c.codec) == (
            m.keyframe,
            m.sequence_header,
            m.codec,
        )
        assert m.timestamp >= 0


@FUZZ
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=400))
@example(SEED, 188)
@example(SEED_MP3, 100)
def test_ts_ingest_never_raises(data: bytes, step: int) -> None:
    _run(data, step)


@FUZZ
@given(
    st.sampled_from([SEED, SEED_MP3, _seed(StreamType.H265)]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=30),
    st.integers(min_value=1, max_value=600),
)
def test_ts_ingest_survives_corrupted_streams(seed: bytes, flips: list[tuple[int, int]], step: int) -> None:
    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    _run(bytes(data), step)
