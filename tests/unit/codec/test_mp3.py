"""MP3 frame headers, checked against hand-made headers and an MP3 stream encoded by PyAV (libmp3lame)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.codec import mp3
from srs.format import flv
from srs.util.errors import ParseError
from unit.codec.cases import MP3_CASES, MP3_ERRORS
from unit.codec.samples import mp3_flv


@pytest.mark.parametrize(("name", "data", "expected"), MP3_CASES, ids=[c[0] for c in MP3_CASES])
def test_decode_and_encode(name: str, data: bytes, expected: dict[str, Any]) -> None:
    header = mp3.parse_header(data)
    assert {k: getattr(header, k) for k in expected} == expected
    assert bytes(header) == data


@pytest.mark.parametrize(("name", "data"), MP3_ERRORS, ids=[c[0] for c in MP3_ERRORS])
def test_errors(name: str, data: bytes) -> None:
    with pytest.raises(ParseError):
        mp3.parse_header(data)


def test_pyav_mp3_in_flv() -> None:
    _, tags = flv.parse_file(mp3_flv())
    bodies = [t.body for t in tags if t.tag_type == flv.TagType.AUDIO]
    assert bodies
    for body in bodies:
        info = flv.parse_audio(body)
        assert info.codec == flv.AudioCodec.MP3
        frames = mp3.split_frames(body[info.data_offset :])
        assert frames
        for header, frame in frames:
            assert (header.version, header.layer, header.sample_rate, header.channels) == (
                mp3.MpegVersion.V1,
                3,
                48000,
                2,
            )
            assert header.samples_per_frame == 1152
            assert len(frame) == header.frame_length


def test_split_frames_errors() -> None:
    frame = bytes.fromhex("fffb9000") + bytes(413)
    assert len(mp3.split_frames(frame * 3)) == 3
    with pytest.raises(ParseError):
        mp3.split_frames(frame * 2 + frame[:100])
    with pytest.raises(ParseError):
        mp3.split_frames(bytes.fromhex("fffb0000") + bytes(100))  # free format


@settings(max_examples=300)
@given(
    st.sampled_from([0, 2, 3]),
    st.integers(1, 3),
    st.integers(0, 14),
    st.integers(0, 2),
    st.integers(0, 0xFF),
)
def test_header_round_trip(version: int, layer: int, bitrate: int, rate: int, low: int) -> None:
    data = (
        (0x7FF << 21) | (version << 19) | ((4 - layer) << 17) | (1 << 16) | (bitrate << 12) | (rate << 10)
    ).to_bytes(4, "big")
    data = data[:3] + bytes((low,))
    header = mp3.parse_header(data)
    assert bytes(header) == data
    assert header.layer == layer
    if bitrate:
        assert header.frame_length > 0
        assert header.frame_length * 8 * header.sample_rate // header.samples_per_frame // 1000 in range(
            header.bitrate_kbps - 8, header.bitrate_kbps + 9
        )
