"""Fuzz the FLV reader and the tag body parsers; only SrsError subclasses may escape.

Seeds: the body case tables of ``tests/unit/codec/flv_cases.py`` and tags of the real clips (legacy AVC/AAC
and the Enhanced RTMP clip encoded by PyAV). The fast predicates must never raise and must agree with the
full parsers whenever those succeed.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srs.format import flv
from srs.util.errors import SrsError
from unit.codec import flv_cases
from unit.codec.samples import clip_bytes, clip_tags, hevc_flv, vp9_opus_flv

FUZZ = settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_REAL = (
    [t for t in clip_tags("avatar.flv")[:40]]
    + flv.parse_file(hevc_flv())[1]
    + flv.parse_file(vp9_opus_flv())[1]
)
VIDEO_SEEDS = (
    [c.body for c in flv_cases.VIDEO_CASES]
    + [c[1] for c in flv_cases.VIDEO_ERRORS]
    + [t.body[:64] for t in _REAL if t.tag_type == flv.TagType.VIDEO]
)
AUDIO_SEEDS = (
    [c.body for c in flv_cases.AUDIO_CASES]
    + [c[1] for c in flv_cases.AUDIO_ERRORS]
    + [t.body[:64] for t in _REAL if t.tag_type == flv.TagType.AUDIO]
)
FILE_SEEDS = [clip_bytes("avatar.flv")[:3000], hevc_flv()[:3000], flv.header(True, True)]


def mutations(seeds: list[bytes], max_size: int = 96) -> st.SearchStrategy[bytes]:
    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 4))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        if data and draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
        return bytes(data)

    return st.one_of(st.binary(max_size=max_size), mutate())


@FUZZ
@given(mutations(VIDEO_SEEDS))
def test_video_body(body: bytes) -> None:
    key = flv.is_video_keyframe(body)
    sh = flv.is_video_sequence_header(body)
    try:
        info = flv.parse_video(body)
    except SrsError:
        assert not sh
        return
    assert info.is_keyframe is key
    assert info.is_sequence_header is sh
    assert 0 < info.data_offset <= len(body)
    assert -(1 << 23) <= info.composition_time_ms < 1 << 23
    if info.is_sequence_header:
        assert info.is_keyframe and info.codec is not None


@FUZZ
@given(mutations(AUDIO_SEEDS))
def test_audio_body(body: bytes) -> None:
    sh = flv.is_audio_sequence_header(body)
    try:
        info = flv.parse_audio(body)
    except SrsError:
        assert not sh
        return
    assert info.is_sequence_header is sh
    assert 0 < info.data_offset <= len(body)
    assert info.enhanced is (info.fourcc is not None)


@FUZZ
@given(mutations(FILE_SEEDS, 400), st.lists(st.integers(1, 700), min_size=1, max_size=8), st.booleans())
def test_reader(data: bytes, chunks: list[int], strict: bool) -> None:
    reader = flv.FlvReader(max_tag_size=1 << 16, strict=strict)
    tags: list[flv.FlvTag] = []
    pos = i = 0
    try:
        while pos < len(data):
            n = chunks[i % len(chunks)]
            tags += reader.feed(data[pos : pos + n])
            pos += n
            i += 1
    except SrsError:
        return
    consumed = (reader.header.data_offset + 4 if reader.header else 0) + sum(15 + len(t.body) for t in tags)
    assert consumed + reader.pending == len(data)
    assert all(len(t.body) <= 1 << 16 and 0 <= t.timestamp < 1 << 32 for t in tags)


@FUZZ
@given(st.sampled_from(list(flv.TagType)), st.integers(-(1 << 40), 1 << 40), st.binary(max_size=64))
def test_encode_then_read(tag_type: flv.TagType, ts: int, body: bytes) -> None:
    data = flv.header(True, True) + flv.encode_tag(tag_type, ts, body)
    assert flv.parse_file(data, strict=True)[1] == [flv.FlvTag(tag_type, ts % (1 << 32), body)]
