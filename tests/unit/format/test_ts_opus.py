"""Opus in MPEG-TS: control headers and access units (case tables), the PMT descriptors the demuxer
reads (FFmpeg 5.1's bytes), and what the muxer writes coming back."""

from __future__ import annotations

import pytest

from srs.format import ts
from srs.format.ts import StreamType, TsDemuxer, TsMuxer, TsStream, iter_descriptors
from srs.format.ts_opus import (
    OpusAccessUnit,
    control_header,
    descriptors,
    iter_access_units,
    pack_access_units,
    parse_control_header,
)
from srs.util.errors import ParseError

# The first bytes of FFmpeg 5.1's first Opus PES payload (libopus, mono): a start trim of 312 (pre-skip),
# au_size 255 + 45, then the packet (TOC 0xf8: CELT fullband 20 ms, mono, one frame).
FFMPEG_FIRST_AU = bytes.fromhex("7ff0ff2d0138f8b4afcaaae5")
# FFmpeg 5.1's PMT packet for `-c:a libopus -f mpegts` (stream 0x100), up to the stuffing.
FFMPEG_PMT = bytes.fromhex("475000100002b01c0001c10000e100f00006e100f00a05044f7075737f028001a8a19bf1")
FFMPEG_PAT = bytes.fromhex("474000100000b00d0001c100000001f0002ab104b2")

HEADERS = [
    # (bytes, (au_size, start_trim, end_trim, packet position))
    (b"\x7f\xe0\x00", (0, 0, 0, 3)),
    (b"\x7f\xe0\x05", (5, 0, 0, 3)),
    (b"\x7f\xe0\xfe", (254, 0, 0, 3)),
    (b"\x7f\xe0\xff\x00", (255, 0, 0, 4)),
    (b"\x7f\xe0\xff\xff\x02", (512, 0, 0, 5)),
    (b"\x7f\xf0\xff\x2d\x01\x38", (300, 312, 0, 6)),  # FFmpeg's first AU
    (b"\x7f\xe8\x10\x02\x88", (16, 0, 648, 5)),  # FFmpeg's last AU: an end trim
    (b"\x7f\xf8\x10\x00\x01\x00\x02", (16, 1, 2, 7)),  # both trims
    (b"\x7f\xf0\x10\xff\xff", (16, 0x1FFF, 0, 5)),  # 3 reserved bits ignored
    (b"\x7f\xe4\x10\x02\xaa\xbb", (16, 0, 0, 6)),  # a control extension of 2 bytes, skipped
    (b"\x7f\xf4\x10\x00\x07\x00", (16, 7, 0, 6)),  # start trim and an empty extension
    (b"\x7f\xfc\x10\x00\x07\x00\x08\x01\xaa", (16, 7, 8, 9)),  # all three
    (b"\x7f\xe3\x01", (1, 0, 0, 3)),  # reserved bits set: taken
]

BAD_HEADERS = [
    (b"", "truncated control header"),
    (b"\x7f\xe0", "truncated control header"),
    (b"\x7f\xc0\x01", "bad control header prefix"),
    (b"\xff\xe0\x01", "bad control header prefix"),
    (b"\x47\x40\x00", "bad control header prefix"),
    (b"\x7f\xe0\xff", "truncated au_size"),
    (b"\x7f\xe0\xff\xff\xff", "truncated au_size"),
    (b"\x7f\xf0\x10\x01", "truncated start_trim"),
    (b"\x7f\xe8\x10", "truncated end_trim"),
    (b"\x7f\xf8\x10\x00\x01\x00", "truncated end_trim"),
    (b"\x7f\xe4\x10", "truncated control extension"),
    (b"\x7f\xe4\x10\x03\x00", "truncated control extension"),
]


@pytest.mark.parametrize(("data", "want"), HEADERS)
def test_control_header(data: bytes, want: tuple[int, int, int, int]) -> None:
    assert parse_control_header(data) == want
    assert parse_control_header(b"junk" + data, 4) == (*want[:3], want[3] + 4)


@pytest.mark.parametrize(("data", "why"), BAD_HEADERS)
def test_bad_control_header(data: bytes, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parse_control_header(data)


def test_ffmpeg_first_access_unit() -> None:
    size, start, end, pos = parse_control_header(FFMPEG_FIRST_AU)
    assert (size, start, end, pos) == (300, 312, 0, 6)
    assert FFMPEG_FIRST_AU[pos] == 0xF8


@pytest.mark.parametrize(
    ("size", "start", "end", "ext", "want"),
    [
        (0, 0, 0, b"", "7fe000"),
        (254, 0, 0, b"", "7fe0fe"),
        (255, 0, 0, b"", "7fe0ff00"),
        (300, 312, 0, b"", "7ff0ff2d0138"),
        (16, 0, 648, b"", "7fe8100288"),
        (16, 1, 2, b"", "7ff81000010002"),
        (16, 0, 0, b"\xaa", "7fe41001aa"),
        (765, 0, 0, b"", "7fe0ffffff00"),
    ],
)
def test_control_header_writer(size: int, start: int, end: int, ext: bytes, want: str) -> None:
    data = control_header(size, start, end, ext)
    assert data.hex() == want
    assert parse_control_header(data) == (size, start, end, len(data))


@pytest.mark.parametrize(("size", "start", "end", "ext"), [(-1, 0, 0, b""), (1, 0x2000, 0, b""),
                                                           (1, 0, -1, b""), (1, 0, 0, bytes(256))])  # fmt: skip
def test_control_header_writer_refuses_out_of_range(size: int, start: int, end: int, ext: bytes) -> None:
    with pytest.raises(ValueError):
        control_header(size, start, end, ext)


UNITS = [
    OpusAccessUnit(b"\xf8" + bytes(299), 312),
    OpusAccessUnit(b"\xfc\x01\x02"),
    OpusAccessUnit(b"\x78" + bytes(600)),
    OpusAccessUnit(b"\xf8\x00", 0, 648),
]


def test_access_units_round_trip() -> None:
    assert list(iter_access_units(pack_access_units(UNITS))) == UNITS
    assert list(iter_access_units(b"")) == []


@pytest.mark.parametrize(
    ("payload", "good", "why"),
    [
        (pack_access_units(UNITS[:2]) + b"\x7f", 2, "truncated control header"),
        (pack_access_units(UNITS[:1]) + b"\x7f\xe0\x09\xf8", 1, "access unit of 9 bytes, 1 left"),
        (pack_access_units(UNITS[:3]) + b"\x7f\xe0\x00", 3, "empty access unit"),
        (b"\xf8" + bytes(20), 0, "bad control header prefix"),  # a raw Opus packet without a header
    ],
)
def test_broken_pes_yields_the_units_before_the_break(payload: bytes, good: int, why: str) -> None:
    got: list[OpusAccessUnit] = []
    with pytest.raises(ParseError, match=why):
        for u in iter_access_units(payload):
            got.append(u)
    assert got == UNITS[:good]


@pytest.mark.parametrize(
    ("es_info", "want"),
    [
        (b"", []),
        (descriptors(2), [(0x05, b"Opus"), (0x7F, b"\x80\x02")]),
        (b"\x0a\x04eng\x00" + descriptors(1), [(0x0A, b"eng\x00"), (0x05, b"Opus"), (0x7F, b"\x80\x01")]),
        (b"\x05", []),  # a truncated descriptor ends the loop
        (b"\x05\x04Op", []),
        (b"\x05\x00\x7f\x05\x80", [(0x05, b"")]),
    ],
)
def test_iter_descriptors(es_info: bytes, want: list[tuple[int, bytes]]) -> None:
    assert list(iter_descriptors(es_info)) == want


@pytest.mark.parametrize(
    ("stream", "registration", "opus", "config"),
    [
        (TsStream(0x100, 0x06, descriptors(1)), b"Opus", True, 1),
        (TsStream(0x100, 0x06, descriptors(2)), b"Opus", True, 2),
        (TsStream(0x100, 0x06, descriptors(0x80)), b"Opus", True, 0x80),
        (TsStream(0x100, 0x06, b"\x05\x04Opus"), b"Opus", True, None),  # no channel config
        (TsStream(0x100, 0x06, b"\x7f\x02\x80\x02\x05\x04Opus"), b"Opus", True, 2),  # any order
        (TsStream(0x100, 0x06, b"\x05\x04AC-3"), b"AC-3", False, None),
        (TsStream(0x100, 0x06, b"\x05\x03Opu"), None, False, None),  # too short a registration
        (TsStream(0x100, 0x06, b"\x7f\x02\x15\x02"), None, False, None),  # another DVB extension
        (TsStream(0x100, 0x06), None, False, None),  # a private PES without descriptors
        (TsStream(0x100, StreamType.AAC, descriptors(2)), b"Opus", False, 2),  # not a private PES
    ],
)
def test_stream_descriptors(
    stream: TsStream, registration: bytes | None, opus: bool, config: int | None
) -> None:
    assert (stream.registration, stream.is_opus, stream.opus_channel_config) == (registration, opus, config)


def pad(packet: bytes) -> bytes:
    return packet + b"\xff" * (ts.PACKET_SIZE - len(packet))


def test_demuxer_reads_ffmpegs_opus_pmt() -> None:
    d = TsDemuxer()
    d.feed(pad(FFMPEG_PAT) + pad(FFMPEG_PMT))
    assert d.errors == 0
    s = d.streams[0x100]
    assert (s.stream_type, s.is_opus, s.opus_channel_config) == (0x06, True, 1)
    assert s.stream_id == ts.STREAM_ID_PRIVATE_1


def test_muxer_writes_descriptors_the_demuxer_reads_back() -> None:
    v = TsStream(ts.VIDEO_PID, StreamType.H264)
    a = TsStream(ts.AUDIO_PID, StreamType.PRIVATE_PES, descriptors(2))
    m = TsMuxer([v, a])
    payload = pack_access_units(UNITS)
    d = TsDemuxer()
    frames = d.feed(m.tables() + m.frame(a.pid, payload, 9000)) + d.flush()
    assert d.streams == {v.pid: v, a.pid: a}
    assert [(f.stream_id, f.pts, f.payload) for f in frames] == [(0xBD, 9000, payload)]
    assert list(iter_access_units(frames[0].payload)) == UNITS
