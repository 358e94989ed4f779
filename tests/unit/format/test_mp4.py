"""fMP4 boxes: what the writer makes, the reader reads back; bad boxes are refused with ParseError."""

from __future__ import annotations

import struct

import pytest

from srs.format import mp4
from srs.util.errors import ParseError

AVC = mp4.Track(1, mp4.VIDE, 1000, "avc1", b"\x01\x64\x00\x1f\xff\xe1\x00\x00\x01\x00\x00", 768, 320)
AAC = mp4.Track(2, mp4.SOUN, 44100, "mp4a", b"\x12\x10", channels=2, sample_rate=44100)
MP3 = mp4.Track(2, mp4.SOUN, 48000, "mp4a", channels=1, sample_rate=48000, object_type=0x6B)
HEVC = mp4.Track(1, mp4.VIDE, 1000, "hvc1", b"\x01" + bytes(22), 640, 360)


@pytest.mark.parametrize("tracks", [[AVC, AAC], [AVC], [AAC], [HEVC, MP3], [MP3]])
def test_init_segment_round_trip(tracks: list[mp4.Track]) -> None:
    data = mp4.init_segment(tracks)
    kinds = [b.kind for b in mp4.parse_boxes(data)]
    assert kinds == ["ftyp", "moov"]
    assert mp4.read_init(data) == tracks


def test_fragment_round_trip_with_two_tracks() -> None:
    video = mp4.Run(1, 9000, [mp4.Sample(40, b"K" * 10, True, 80), mp4.Sample(40, b"P" * 5, False, -40)])
    audio = mp4.Run(2, 396900, [mp4.Sample(1024, b"a" * 7), mp4.Sample(1024, b"b" * 3)])
    data = mp4.fragment(7, [video, mp4.Run(3, 0), audio])  # an empty run is left out
    moof, mdat = mp4.parse_boxes(data)
    assert (moof.kind, mdat.kind) == ("moof", "mdat")
    assert struct.unpack(">I", bytes(moof.find("mfhd").body[4:8]))[0] == 7  # type: ignore[union-attr]
    assert len(moof.find_all("traf")) == 2
    got = [(s.track_id, s.dts, s.duration, s.cts, s.keyframe, s.data) for s in mp4.read_fragments(data)]
    assert got == [
        (1, 9000, 40, 80, True, b"K" * 10),
        (1, 9040, 40, -40, False, b"P" * 5),
        (2, 396900, 1024, 0, True, b"a" * 7),
        (2, 397924, 1024, 0, True, b"b" * 3),
    ]


def test_fragments_after_an_init_segment_are_read_in_order() -> None:
    f1 = mp4.fragment(1, [mp4.Run(1, 0, [mp4.Sample(33, b"x")])])
    f2 = mp4.fragment(2, [mp4.Run(1, 33, [mp4.Sample(33, b"y", False)])])
    samples = mp4.read_fragments(mp4.init_segment([AVC]) + f1 + f2)
    assert [(s.dts, s.data, s.keyframe) for s in samples] == [(0, b"x", True), (33, b"y", False)]


def test_large_box_sizes_and_size_zero() -> None:
    body = b"abc"
    large = struct.pack(">I", 1) + b"free" + struct.pack(">Q", 16 + len(body)) + body
    to_end = struct.pack(">I", 0) + b"mdat" + b"tail"
    boxes = mp4.parse_boxes(large + to_end)
    assert [(b.kind, bytes(b.body)) for b in boxes] == [("free", body), ("mdat", b"tail")]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x00\x00\x00", "stray"),
        (struct.pack(">I", 20) + b"moov" + bytes(4), "overruns"),
        (struct.pack(">I", 4) + b"moov", "overruns"),
        (struct.pack(">I", 1) + b"moov" + bytes(4), "largesize"),
        (mp4.box("free"), "missing moov"),
        (mp4.box("moov", mp4.box("trak")), "missing tkhd"),
    ],
)
def test_bad_boxes(data: bytes, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        mp4.read_init(data)


def test_sample_data_outside_the_file_is_refused() -> None:
    data = mp4.fragment(1, [mp4.Run(1, 0, [mp4.Sample(33, b"xyz")])])
    with pytest.raises(ParseError):
        mp4.read_fragments(data[:-2] + mp4.box("free"))
