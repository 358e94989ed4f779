"""FLV container: header, tag encoding, the incremental reader, whole files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srs.format import amf0, flv
from srs.format.flv import FlvHeader, FlvReader, FlvTag, TagType
from srs.util.errors import ErrorCode, LocalProtocolError, ParseError
from unit.codec.flv_cases import HEADER_CASES, TAG_CASES, TIMESTAMP_WRAP_CASES
from unit.codec.samples import AVATAR_TAGS, BBB_TAGS, clip_bytes, clip_tags, hevc_flv


@pytest.mark.parametrize(("has_audio", "has_video", "data"), HEADER_CASES)
def test_header(has_audio: bool, has_video: bool, data: bytes) -> None:
    assert flv.header(has_audio, has_video) == data
    assert bytes(FlvHeader(has_audio, has_video)) + bytes(4) == data
    reader = FlvReader()
    assert reader.feed(data) == []
    assert reader.header == FlvHeader(has_audio, has_video, 1, 9)


@pytest.mark.parametrize(("name", "tag", "data"), TAG_CASES, ids=[c[0] for c in TAG_CASES])
def test_encode_and_read_tag(name: str, tag: tuple[int, int, bytes], data: bytes) -> None:
    tag_type, ts, body = tag
    assert flv.encode_tag(tag_type, ts, body) == data
    reader = FlvReader()
    assert reader.feed(flv.header(True, True) + data) == [FlvTag(TagType(tag_type), ts, body)]
    assert reader.pending == 0


@pytest.mark.parametrize(("given_ts", "written"), TIMESTAMP_WRAP_CASES)
def test_timestamp_is_taken_modulo_2_32(given_ts: int, written: int) -> None:
    data = flv.encode_tag(TagType.AUDIO, given_ts, b"\xaf\x01")
    assert data == flv.encode_tag(TagType.AUDIO, written, b"\xaf\x01")
    _, tags = flv.parse_file(flv.header(True, False) + data)
    assert tags[0].timestamp == written


def test_encode_tag_refuses_a_body_beyond_24_bits() -> None:
    with pytest.raises(LocalProtocolError):
        flv.encode_tag(TagType.VIDEO, 0, bytes(0x1000000))


def test_script_body() -> None:
    body = flv.script_body("onMetaData", amf0.EcmaArray(width=768.0, height=320.0))
    assert amf0.decode_all(body) == ["onMetaData", {"width": 768.0, "height": 320.0}]
    assert body.startswith(b"\x02\x00\x0aonMetaData\x08")


# --- whole files


@pytest.mark.parametrize(("clip", "counts"), [("avatar.flv", AVATAR_TAGS), ("bbb.flv", BBB_TAGS)])
def test_parse_real_files_and_rewrite_them_byte_for_byte(clip: str, counts: dict[str, int]) -> None:
    data = clip_bytes(clip)
    header, tags = flv.parse_file(data, strict=True)
    assert header == FlvHeader(True, True, 1, 9)
    assert {
        "audio": sum(t.tag_type == TagType.AUDIO for t in tags),
        "video": sum(t.tag_type == TagType.VIDEO for t in tags),
        "script": sum(t.tag_type == TagType.SCRIPT for t in tags),
    } == counts
    assert tags[0].tag_type == TagType.SCRIPT
    assert amf0.decode_all(tags[0].body)[0] == "onMetaData"
    # Timestamps of each kind never go backwards in these files.
    for kind in (TagType.AUDIO, TagType.VIDEO):
        ts = [t.timestamp for t in tags if t.tag_type == kind]
        assert ts == sorted(ts)
    assert (
        flv.header(True, True) + b"".join(flv.encode_tag(t.tag_type, t.timestamp, t.body) for t in tags)
        == data
    )


def test_pyav_enhanced_rtmp_file_rewrites_byte_for_byte() -> None:
    data = hevc_flv()
    header, tags = flv.parse_file(data, strict=True)
    assert header.has_video
    assert (
        flv.header(header.has_audio, header.has_video)
        + b"".join(flv.encode_tag(t.tag_type, t.timestamp, t.body) for t in tags)
        == data
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 4096), min_size=1, max_size=40))
def test_reader_is_incremental(chunks: list[int]) -> None:
    data = clip_bytes("bbb.flv")[:60000]
    reader = FlvReader()
    got: list[FlvTag] = []
    pos = 0
    i = 0
    while pos < len(data):
        size = chunks[i % len(chunks)]
        got += reader.feed(data[pos : pos + size])
        pos += size
        i += 1
    expected = list(clip_tags("bbb.flv"))
    assert got == expected[: len(got)]
    assert len(got) >= 90
    # what is left is exactly the partial tag at the cut
    assert reader.pending == 60000 - 13 - sum(15 + len(t.body) for t in got)


def test_reader_byte_by_byte() -> None:
    data = flv.header(False, True) + b"".join(flv.encode_tag(*c[1]) for c in TAG_CASES)
    reader = FlvReader()
    tags = [t for i in range(len(data)) for t in reader.feed(data[i : i + 1])]
    assert [(t.tag_type, t.timestamp, t.body) for t in tags] == [c[1] for c in TAG_CASES]


def test_reader_honours_a_larger_data_offset() -> None:
    data = b"FLV\x01\x05\x00\x00\x00\x0c" + b"ext" + bytes(4) + flv.encode_tag(8, 7, b"\xaf\x01")
    reader = FlvReader()
    assert reader.feed(data) == [FlvTag(TagType.AUDIO, 7, b"\xaf\x01")]
    assert reader.header == FlvHeader(True, True, 1, 12)


def test_reader_masks_filter_and_reserved_bits() -> None:
    # SRS compat: the tag type is read as TagType & 0x1F.
    tag = bytearray(flv.encode_tag(9, 0, b"\x17\x01\x00\x00\x00"))
    tag[0] |= 0xE0
    assert FlvReader().feed(flv.header(False, True) + bytes(tag))[0].tag_type == TagType.VIDEO


def test_reader_tolerates_previous_tag_size_mismatch_like_srs() -> None:
    tag = bytearray(flv.encode_tag(8, 0, b"\xaf\x01"))
    tag[-1] ^= 0xFF
    data = flv.header(True, False)[:9] + b"\x00\x00\x00\x05" + bytes(tag) * 2
    reader = FlvReader()
    assert len(reader.feed(data)) == 2
    assert reader.prev_tag_size_mismatches == 2
    with pytest.raises(ParseError, match="PreviousTagSize0"):
        FlvReader(strict=True).feed(data)
    with pytest.raises(ParseError, match="PreviousTagSize"):
        FlvReader(strict=True).feed(flv.header(True, False) + bytes(tag))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"FLX\x01\x05\x00\x00\x00\x09", ErrorCode.KERNEL_FLV_HEADER),
        (b"GET / HTTP/1.1\r\n", ErrorCode.KERNEL_FLV_HEADER),
        (b"FX", ErrorCode.KERNEL_FLV_HEADER),  # refused before the 9 header bytes arrive
        (b"FLV\x01\x05\x00\x00\x00\x08", ErrorCode.KERNEL_FLV_HEADER),
        (b"FLV\x01\x05\x00\x00\x10\x00", ErrorCode.KERNEL_FLV_HEADER),
        (b"FLV\x01\x05\xff\xff\xff\xff", ErrorCode.KERNEL_FLV_HEADER),
        (flv.header(True, True) + flv.encode_tag(7, 0, b"x"), ErrorCode.STREAM_CASTER_FLV_TAG),
        (flv.header(True, True) + flv.encode_tag(0x1F, 0, b"x"), ErrorCode.STREAM_CASTER_FLV_TAG),
    ],
)
def test_reader_errors(data: bytes, code: ErrorCode) -> None:
    with pytest.raises(ParseError) as info:
        FlvReader().feed(data)
    assert info.value.code == code


def test_reader_refuses_a_huge_tag_before_buffering_it() -> None:
    reader = FlvReader(max_tag_size=1000)
    head = flv.header(False, True) + flv.encode_tag(9, 0, bytes(1001))[:11]
    with pytest.raises(ParseError, match="limit"):
        reader.feed(head)
    # the reader stays failed
    with pytest.raises(ParseError, match="limit"):
        reader.feed(b"")
    assert FlvReader().feed(flv.header(False, True) + flv.encode_tag(9, 0, bytes(1001)))[0].body == bytes(
        1001
    )


def test_default_limit_is_16_mib() -> None:
    # 16 MiB is above the 24-bit DataSize, so by default any well-formed tag is accepted (and waited for).
    assert FlvReader().max_tag_size == flv.DEFAULT_MAX_TAG_SIZE == 16 * 1024 * 1024
    head = flv.header(False, True) + b"\x09\xff\xff\xff" + bytes(7)
    reader = FlvReader()
    assert reader.feed(head) == []
    assert reader.pending == 11
    with pytest.raises(ParseError):
        FlvReader(max_tag_size=1 << 20).feed(head)


def test_parse_file_errors() -> None:
    with pytest.raises(ParseError):
        flv.parse_file(b"FLV\x01")
    with pytest.raises(ParseError, match="trailing"):
        flv.parse_file(flv.header(True, True) + flv.encode_tag(8, 0, b"\xaf\x01")[:-1])


@pytest.mark.parametrize(
    ("codec", "name"),
    [(flv.VideoCodec.AVC, "H264"), (flv.VideoCodec.HEVC, "HEVC"), (flv.VideoCodec.AV1, "AV1"),
     (flv.VideoCodec.VP6, "VP6"), (flv.VideoCodec.VP6A, "VP6"), (flv.VideoCodec.VP9, "Other"),
     (flv.VideoCodec.SORENSON, "Other"), (None, "Other")],
)  # fmt: skip
def test_video_codec_names(codec: flv.VideoCodec | None, name: str) -> None:
    assert flv.video_codec_name(codec) == name


@pytest.mark.parametrize(
    ("codec", "name"),
    [(flv.AudioCodec.AAC, "AAC"), (flv.AudioCodec.MP3, "MP3"), (flv.AudioCodec.OPUS, "Opus"),
     (flv.AudioCodec.SPEEX, "Other"), (flv.AudioCodec.FLAC, "Other"), (None, "Other")],
)  # fmt: skip
def test_audio_codec_names(codec: flv.AudioCodec | None, name: str) -> None:
    assert flv.audio_codec_name(codec) == name
