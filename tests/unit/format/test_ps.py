"""MPEG-PS demuxer (srs.format.ps): packs, PSM stream types, PES timing, video joined per pack, resync.

The streams are built by the test device's muxer (tests/support/gb_device.py), written from the
standard independently of the demuxer."""

from __future__ import annotations

from pathlib import Path

import pytest

from srs.format.ps import PsDemuxer, PsStreamType, parse_pes, parse_psm
from srs.format.ts import PesFrame
from support.gb_device import AAC, G711A, H264, H265, PsMuxer, pack_header, pes, ps_stream, psm, system_header
from support.media import clip

IDR = b"\x00\x00\x00\x01\x65" + bytes(range(1, 200))
P = b"\x00\x00\x00\x01\x41" + b"\x99" * 50
ADTS = b"\xff\xf1\x50\x80\x03\x1f\xfc" + b"\x21" * 17


def _demux(data: bytes, step: int = 0) -> tuple[PsDemuxer, list[PesFrame]]:
    d = PsDemuxer()
    out: list[PesFrame] = []
    if step:
        for i in range(0, len(data), step):
            out += d.feed(data[i : i + step])
    else:
        out += d.feed(data)
    out += d.flush()
    return d, out


def _stream(video_type: int = H264, audio_type: int | None = AAC) -> bytes:
    m = PsMuxer(video_type, audio_type)
    return (
        m.video(IDR, 3600 + 3600, 3600, key=True)
        + m.audio(ADTS, 3600)
        + m.video(P, 7200 + 3600, 7200, key=False)
        + m.audio(ADTS, 5690)
    )


def _summary(frames: list[PesFrame]) -> list[tuple[int, int, int | None, int | None, int]]:
    return [(f.stream_id, f.stream_type, f.pts, f.dts, len(f.payload)) for f in frames]


EXPECTED = [
    (0xE0, H264, 7200, 3600, len(IDR)),
    (0xC0, AAC, 3600, 3600, len(ADTS)),
    (0xE0, H264, 10800, 7200, len(P)),
    (0xC0, AAC, 5690, 5690, len(ADTS)),
]


@pytest.mark.parametrize("step", [0, 1, 7, 1400])
def test_frames_types_and_times_in_any_chunking(step: int) -> None:
    d, frames = _demux(_stream(), step)
    assert _summary(frames) == EXPECTED
    assert frames[0].payload == IDR and frames[1].payload == ADTS
    assert d.errors == 0 and d.packs == 4
    assert {s: t.stream_type for s, t in d.streams.items()} == {0xE0: H264, 0xC0: AAC}


@pytest.mark.parametrize(
    ("video_type", "audio_type"),
    [(H264, AAC), (H265, AAC), (H264, G711A), (H264, PsStreamType.G711U), (H265, None)],
)
def test_psm_stream_types(video_type: int, audio_type: int | None) -> None:
    _, frames = _demux(_stream(video_type, audio_type))
    assert frames[0].stream_type == video_type
    if audio_type is not None:
        assert frames[1].stream_type == audio_type


def test_a_frame_cut_into_several_pes_is_joined() -> None:
    big = b"\x00\x00\x00\x01\x65" + bytes(150_000)
    data = PsMuxer().video(big, 9000, 9000, key=True) + pack_header(12600)
    _, frames = _demux(data)
    assert [f.payload for f in frames] == [big]
    assert frames[0].pts == 9000


def test_two_timed_video_pes_in_one_pack_are_two_frames() -> None:
    data = pack_header(0) + psm(H264, None) + pes(0xE0, IDR, 3600) + pes(0xE0, P, 7200)
    _, frames = _demux(data)
    assert [(f.pts, f.payload) for f in frames] == [(3600, IDR), (7200, P)]


def test_untimed_pes_takes_the_last_time() -> None:
    data = pack_header(0) + psm(H264, AAC) + pes(0xC0, ADTS, 900) + pes(0xC0, ADTS, None)
    _, frames = _demux(data)
    assert [f.pts for f in frames] == [900, 900]


def test_without_a_psm_the_stream_type_is_unknown() -> None:
    data = pack_header(0) + system_header(True) + pes(0xE0, IDR, 3600) + pes(0xC0, ADTS, 3600)
    _, frames = _demux(data)
    assert [f.stream_type for f in frames] == [0, 0]


@pytest.mark.parametrize(
    ("garbage", "where"),
    [
        (b"\x12\x34\x56" * 100, "before"),
        (b"\x00\x00\x01", "before"),
        (b"\x00\x00\x01\xe0\xff\xff" + b"junk" * 10, "before"),  # a PES before any pack
        (b"\x00\x00\x01\x65" + b"\x11" * 30, "middle"),  # a start code below 0xB9 inside a pack
        (b"\xde\xad\xbe\xef" * 4, "middle"),
    ],
)
def test_garbage_is_skipped_to_the_next_pack(garbage: bytes, where: str) -> None:
    m = PsMuxer()
    first = m.video(IDR, 3600, 3600, key=True)
    second = m.video(P, 7200, 7200, key=True)
    data = garbage + first + second if where == "before" else first + garbage + second
    for step in (0, 5):
        d, frames = _demux(data, step)
        assert d.errors >= 1
        payloads = [f.payload for f in frames]
        assert payloads[-1] == P
        if where == "before":
            assert payloads == [IDR, P]


def test_a_bad_pes_header_drops_its_pack() -> None:
    bad = b"\x00\x00\x01\xe0\x00\x05\x00\x00\x00\x00\x00"  # no '10' marker bits
    m = PsMuxer()
    data = pack_header(0) + psm(H264, None) + bad + pes(0xE0, IDR, 3600) + m.video(P, 7200, 7200, key=False)
    d, frames = _demux(data)
    assert d.errors >= 1
    assert [f.payload for f in frames] == [P]


def test_mpeg1_pack_headers_are_not_ps_of_gb() -> None:
    mpeg1 = b"\x00\x00\x01\xba\x21\x00\x01\x00\x01\x80\x00\x01"
    d, frames = _demux(mpeg1 + PsMuxer().video(IDR, 0, 0, key=True))
    assert d.errors == 1 and [f.payload for f in frames] == [IDR]


def test_end_code_closes_the_frame_and_padding_is_skipped() -> None:
    padding = b"\x00\x00\x01\xbe\x00\x04\xff\xff\xff\xff"
    data = PsMuxer().video(IDR, 0, 0, key=True) + padding + b"\x00\x00\x01\xb9"
    d, frames = _demux(data)
    assert d.errors == 0 and [f.payload for f in frames] == [IDR]


def test_parse_psm_skips_descriptors() -> None:
    es = bytes((0x1B, 0xE0, 0, 3, 1, 2, 3)) + bytes((0x90, 0xC0, 0, 0))
    body = bytes((0xE0, 0xFF, 0, 2, 9, 9)) + len(es).to_bytes(2, "big") + es + b"\0\0\0\0"
    assert parse_psm(body) == {0xE0: 0x1B, 0xC0: 0x90}


def test_parse_pes_with_dts() -> None:
    assert parse_pes(pes(0xE0, b"x", 900, 300)) == (900, 300, b"x")
    assert parse_pes(pes(0xE0, b"x", None)) == (None, None, b"x")
    with pytest.raises(ValueError):
        parse_pes(b"\x00\x00\x01\xe0\x00\x03\x80\x80\x05")


def test_round_trip_of_the_clip() -> None:
    """Every frame the device muxes from bbb.flv comes back, in order, with its bytes and times."""
    units = list(ps_stream(Path(clip("bbb.flv")), audio="aac"))
    d, frames = _demux(b"".join(ps for _, ps in units), 1400)
    assert d.errors == 0 and d.packs == len(units)
    assert len(frames) == len(units)
    video = [f for f in frames if f.stream_id == 0xE0]
    assert len(video) == 251 and all(f.stream_type == H264 for f in video)
    assert video[0].payload.startswith(b"\x00\x00\x00\x01\x67")  # SPS first on the keyframe
