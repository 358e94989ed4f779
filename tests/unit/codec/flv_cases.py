"""Case tables for FLV tags and tag bodies (legacy and Enhanced RTMP).

Each body case has the bytes, the expected :class:`VideoInfo`/:class:`AudioInfo`, and (when the builder can
make it) the builder arguments that must reproduce the bytes exactly. They drive
``tests/unit/format/test_flv_tags.py`` and seed ``tests/fuzz/test_fuzz_flv.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srs.format.flv import (
    AudioCodec,
    AudioInfo,
    AudioPacketType,
    FrameType,
    TagType,
    VideoCodec,
    VideoInfo,
    VideoPacketType,
)

AVCC = bytes.fromhex("01640020ffe1000467640020010005") + bytes.fromhex("68ebecb22c")
HVCC = bytes.fromhex("0101600000009000000000001ef000fcfdf8f800000f00")
NALU = bytes.fromhex("0000000565888480ff")
ASC = bytes.fromhex("1210")

K, IN, D, G, C = FrameType.KEY, FrameType.INTER, FrameType.DISPOSABLE, FrameType.GENERATED, FrameType.COMMAND
SH, CF, EOS, CFX, META = (
    VideoPacketType.SEQUENCE_HEADER,
    VideoPacketType.CODED_FRAMES,
    VideoPacketType.END_OF_SEQUENCE,
    VideoPacketType.CODED_FRAMES_X,
    VideoPacketType.METADATA,
)


def vinfo(
    codec: VideoCodec | None,
    frame_type: FrameType,
    packet_type: VideoPacketType,
    cts: int,
    offset: int,
    *,
    fourcc: str | None = None,
    key: bool | None = None,
    sh: bool = False,
    command: int | None = None,
    track_id: int | None = None,
    nano: int | None = None,
) -> VideoInfo:
    if key is None:
        key = frame_type == K
    return VideoInfo(
        codec,
        frame_type,
        packet_type,
        cts,
        offset,
        fourcc is not None,
        fourcc,
        key,
        sh,
        command,
        track_id,
        nano,
    )


@dataclass(frozen=True)
class VideoCase:
    name: str
    body: bytes
    info: VideoInfo
    build: dict[str, Any] | None  # video_body(**build) == body


def _vb(codec: VideoCodec, ft: int, pt: int, cts: int, data: bytes, **kw: Any) -> dict[str, Any]:
    return {"codec": codec, "frame_type": ft, "packet_type": pt, "cts": cts, "data": data, **kw}


AVC, HEVC, AV1 = VideoCodec.AVC, VideoCodec.HEVC, VideoCodec.AV1

VIDEO_CASES: list[VideoCase] = [
    # legacy AVC (FLV 10.1 E.4.3.1)
    VideoCase(
        "avc-sequence-header",
        b"\x17\x00\x00\x00\x00" + AVCC,
        vinfo(AVC, K, SH, 0, 5, sh=True),
        _vb(AVC, K, SH, 0, AVCC),
    ),
    VideoCase(
        "avc-key-nalu-cts-80",
        b"\x17\x01\x00\x00\x50" + NALU,
        vinfo(AVC, K, CF, 80, 5),
        _vb(AVC, K, CF, 80, NALU),
    ),
    VideoCase(
        "avc-inter-negative-cts",
        b"\x27\x01\xff\xff\xd8" + NALU,
        vinfo(AVC, IN, CF, -40, 5),
        _vb(AVC, IN, CF, -40, NALU),
    ),
    VideoCase(
        "avc-max-cts",
        b"\x27\x01\x7f\xff\xff",
        vinfo(AVC, IN, CF, 0x7FFFFF, 5),
        _vb(AVC, IN, CF, 0x7FFFFF, b""),
    ),
    VideoCase(
        "avc-end-of-sequence", b"\x17\x02\x00\x00\x00", vinfo(AVC, K, EOS, 0, 5), _vb(AVC, K, EOS, 0, b"")
    ),
    # SRS compat: a sequence header flagged as an inter frame is not one (SrsFlvVideo::sh).
    VideoCase(
        "avc-sequence-header-on-inter-frame",
        b"\x27\x00\x00\x00\x00" + AVCC,
        vinfo(AVC, IN, SH, 0, 5),
        _vb(AVC, IN, SH, 0, AVCC),
    ),
    VideoCase(
        "avc-generated-keyframe",
        b"\x47\x01\x00\x00\x00" + NALU,
        vinfo(AVC, G, CF, 0, 5),
        _vb(AVC, G, CF, 0, NALU),
    ),
    VideoCase(
        "avc-command",
        b"\x57\x01\x00\x00\x00\x01",
        vinfo(AVC, C, CF, 0, 5, command=1),
        _vb(AVC, C, CF, 0, b"\x01"),
    ),
    VideoCase("avc-command-short", b"\x57", vinfo(AVC, C, CF, 0, 1), None),
    # SRS compat: legacy ids 12 (HEVC) and 13 (AV1) with the AVC layout.
    VideoCase(
        "hevc-12-sequence-header",
        b"\x1c\x00\x00\x00\x00" + HVCC,
        vinfo(HEVC, K, SH, 0, 5, sh=True),
        _vb(HEVC, K, SH, 0, HVCC),
    ),
    VideoCase(
        "hevc-12-inter",
        b"\x2c\x01\x00\x00\x28" + NALU,
        vinfo(HEVC, IN, CF, 40, 5),
        _vb(HEVC, IN, CF, 40, NALU),
    ),
    VideoCase(
        "av1-13-sequence-header",
        b"\x1d\x00\x00\x00\x00\x81\x00\x0c\x00",
        vinfo(AV1, K, SH, 0, 5, sh=True),
        _vb(AV1, K, SH, 0, b"\x81\x00\x0c\x00"),
    ),
    # legacy codecs without packet type
    VideoCase(
        "vp6-inter",
        b"\x24\x00\xaa\xbb",
        vinfo(VideoCodec.VP6, IN, CF, 0, 1),
        _vb(VideoCodec.VP6, IN, CF, 0, b"\x00\xaa\xbb"),
    ),
    VideoCase(
        "vp6a-key",
        b"\x15\x00\x00\x10\xaa",
        vinfo(VideoCodec.VP6A, K, CF, 0, 1),
        _vb(VideoCodec.VP6A, K, CF, 0, b"\x00\x00\x10\xaa"),
    ),
    VideoCase(
        "sorenson-disposable",
        b"\x32\x00\x00\x84",
        vinfo(VideoCodec.SORENSON, D, CF, 0, 1),
        _vb(VideoCodec.SORENSON, D, CF, 0, b"\x00\x00\x84"),
    ),
    VideoCase(
        "screen-key",
        b"\x13\x01",
        vinfo(VideoCodec.SCREEN, K, CF, 0, 1),
        _vb(VideoCodec.SCREEN, K, CF, 0, b"\x01"),
    ),
    VideoCase(
        "screen2-command",
        b"\x56\x00",
        vinfo(VideoCodec.SCREEN2, C, CF, 0, 1, command=0),
        _vb(VideoCodec.SCREEN2, C, CF, 0, b"\x00"),
    ),
    # Enhanced RTMP (veovera/enhanced-rtmp v1/v2)
    VideoCase(
        "ex-hvc1-sequence-start",
        b"\x90hvc1" + HVCC,
        vinfo(HEVC, K, SH, 0, 5, fourcc="hvc1", sh=True),
        _vb(HEVC, K, SH, 0, HVCC, enhanced=True),
    ),
    VideoCase(
        "ex-hvc1-coded-frames-cts",
        b"\xa1hvc1\x00\x00\x28" + NALU,
        vinfo(HEVC, IN, CF, 40, 8, fourcc="hvc1"),
        _vb(HEVC, IN, CF, 40, NALU, enhanced=True),
    ),
    VideoCase(
        "ex-hvc1-coded-frames-negative-cts",
        b"\x91hvc1\xff\xff\xff" + NALU,
        vinfo(HEVC, K, CF, -1, 8, fourcc="hvc1"),
        _vb(HEVC, K, CF, -1, NALU, enhanced=True),
    ),
    VideoCase(
        "ex-hvc1-coded-frames-x",
        b"\xa3hvc1" + NALU,
        vinfo(HEVC, IN, CFX, 0, 5, fourcc="hvc1"),
        _vb(HEVC, IN, CFX, 0, NALU, enhanced=True),
    ),
    VideoCase(
        "ex-hvc1-sequence-end",
        b"\x92hvc1",
        vinfo(HEVC, K, EOS, 0, 5, fourcc="hvc1"),
        _vb(HEVC, K, EOS, 0, b"", enhanced=True),
    ),
    # FFmpeg writes colorInfo metadata with FrameType 5; FrameType is ignored for Metadata.
    VideoCase(
        "ex-hvc1-metadata-command-frame",
        b"\xd4hvc1\x02\x00\x09colorInfo",
        vinfo(HEVC, C, META, 0, 5, fourcc="hvc1"),
        _vb(HEVC, C, META, 0, b"\x02\x00\x09colorInfo", enhanced=True),
    ),
    VideoCase(
        "ex-metadata-is-not-a-keyframe",
        b"\x94hvc1\x05",
        vinfo(HEVC, K, META, 0, 5, fourcc="hvc1", key=False),
        _vb(HEVC, K, META, 0, b"\x05", enhanced=True),
    ),
    VideoCase(
        "ex-avc1-sequence-start",
        b"\x90avc1" + AVCC,
        vinfo(AVC, K, SH, 0, 5, fourcc="avc1", sh=True),
        _vb(AVC, K, SH, 0, AVCC, enhanced=True),
    ),
    VideoCase(
        "ex-avc1-coded-frames",
        b"\x91avc1\x00\x00\x50" + NALU,
        vinfo(AVC, K, CF, 80, 8, fourcc="avc1"),
        _vb(AVC, K, CF, 80, NALU, enhanced=True),
    ),
    VideoCase(
        "ex-av01-sequence-start",
        b"\x90av01\x81\x00\x0c\x00",
        vinfo(AV1, K, SH, 0, 5, fourcc="av01", sh=True),
        _vb(AV1, K, SH, 0, b"\x81\x00\x0c\x00", enhanced=True),
    ),
    VideoCase(
        "ex-av01-mpeg2ts-sequence-start",
        b"\x95av01\x80\x04",
        vinfo(AV1, K, VideoPacketType.MPEG2TS_SEQUENCE_START, 0, 5, fourcc="av01", sh=True),
        _vb(AV1, K, 5, 0, b"\x80\x04", enhanced=True),
    ),
    # Only avc1/hvc1/vvc1 carry a composition time in CodedFrames.
    VideoCase(
        "ex-av01-coded-frames-no-cts",
        b"\xa1av01\x12\x00\x0a",
        vinfo(AV1, IN, CF, 0, 5, fourcc="av01"),
        _vb(AV1, IN, CF, 0, b"\x12\x00\x0a", enhanced=True),
    ),
    VideoCase(
        "ex-vp09-key",
        b"\x91vp09\x82\x49\x83",
        vinfo(VideoCodec.VP9, K, CF, 0, 5, fourcc="vp09"),
        _vb(VideoCodec.VP9, K, CF, 0, b"\x82\x49\x83", enhanced=True),
    ),
    VideoCase(
        "ex-vp08-inter",
        b"\xa1vp08\x31\x02",
        vinfo(VideoCodec.VP8, IN, CF, 0, 5, fourcc="vp08"),
        _vb(VideoCodec.VP8, IN, CF, 0, b"\x31\x02", enhanced=True),
    ),
    VideoCase(
        "ex-vvc1-coded-frames",
        b"\xa1vvc1\x00\x00\x28" + NALU,
        vinfo(VideoCodec.VVC, IN, CF, 40, 8, fourcc="vvc1"),
        _vb(VideoCodec.VVC, IN, CF, 40, NALU, enhanced=True),
    ),
    # A command frame carries no FourCC: just VideoCommand UI8.
    VideoCase(
        "ex-command",
        b"\xd1\x01",
        vinfo(None, C, CF, 0, 2, key=False, command=1)._replace(enhanced=True),
        _vb(HEVC, C, CF, 0, b"\x01", enhanced=True),
    ),
    # v2 ModEx: TimestampOffsetNano of 500 ns, then CodedFrames.
    VideoCase(
        "ex-modex-timestamp-offset-nano",
        b"\x97\x02\x00\x01\xf4\x01hvc1\x00\x00\x00" + NALU,
        vinfo(HEVC, K, CF, 0, 13, fourcc="hvc1", nano=500),
        None,
    ),
    VideoCase(
        "ex-modex-long-unknown-type",
        b"\xa7\xff\x01\x03" + bytes(260) + b"\x13hvc1" + NALU,
        vinfo(HEVC, IN, CFX, 0, 269, fourcc="hvc1"),
        None,
    ),
    VideoCase(
        "ex-modex-chain",
        b"\xa7\x00\x00\x07\x02\x00\x00\x64\x03av01\x12",
        vinfo(AV1, IN, CFX, 0, 13, fourcc="av01", nano=100),
        None,
    ),
    # v2 Multitrack, one track per message.
    VideoCase(
        "ex-multitrack-one-track-sequence-start",
        b"\x96\x00hvc1\x00" + HVCC,
        vinfo(HEVC, K, SH, 0, 7, fourcc="hvc1", sh=True, track_id=0),
        _vb(HEVC, K, SH, 0, HVCC, enhanced=True, track_id=0),
    ),
    VideoCase(
        "ex-multitrack-one-track-coded-frames",
        b"\xa6\x01avc1\x02\x00\x00\x28" + NALU,
        vinfo(AVC, IN, CF, 40, 10, fourcc="avc1", track_id=2),
        _vb(AVC, IN, CF, 40, NALU, enhanced=True, track_id=2),
    ),
]

# (name, body) that parse_video must refuse with ParseError
VIDEO_ERRORS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("frame-type-0", b"\x07\x01\x00\x00\x00"),
    ("frame-type-6", b"\x67\x01\x00\x00\x00"),
    ("codec-0", b"\x10\x00"),
    ("codec-8", b"\x18\x00"),
    ("codec-14-not-legacy", b"\x1e\x00"),
    ("avc-truncated-header", b"\x17\x01\x00"),
    ("avc-packet-type-3", b"\x17\x03\x00\x00\x00"),
    ("ex-frame-type-0", b"\x80hvc1"),
    ("ex-frame-type-6", b"\xe1hvc1"),
    ("ex-reserved-packet-type", b"\x98hvc1"),
    ("ex-unknown-fourcc", b"\x91xxxx\x00\x00\x00"),
    ("ex-truncated-fourcc", b"\x91hv"),
    ("ex-truncated-cts", b"\x91hvc1\x00"),
    ("ex-command-truncated", b"\xd1"),
    ("ex-many-tracks", b"\x96\x10hvc1\x00\x00\x00\x05"),
    ("ex-many-tracks-many-codecs", b"\x96\x20hvc1\x00\x00\x00\x05"),
    ("ex-nested-multitrack", b"\x96\x06hvc1\x00"),
    ("ex-multitrack-truncated", b"\x96"),
    ("ex-multitrack-no-track-id", b"\x96\x00hvc1"),
    ("ex-modex-truncated", b"\x97\x05\x00"),
    ("ex-modex-no-size", b"\x97"),
    ("ex-modex-long-truncated", b"\x97\xff\x01"),
]


def ainfo(
    codec: AudioCodec,
    packet_type: AudioPacketType,
    offset: int,
    *,
    aac_pt: int | None = None,
    sh: bool = False,
    flags: tuple[int, int, int] | None = (3, 1, 1),
    fourcc: str | None = None,
    track_id: int | None = None,
    nano: int | None = None,
) -> AudioInfo:
    if fourcc is not None:
        rate = size = stype = 0
        hz = ch = None
    else:
        assert flags is not None
        rate, size, stype = flags
        hz, ch = (5512, 11025, 22050, 44100)[rate], stype + 1
    return AudioInfo(
        codec,
        packet_type,
        aac_pt,
        sh,
        offset,
        fourcc is not None,
        fourcc,
        rate,
        size,
        stype,
        hz,
        ch,
        track_id,
        nano,
    )


@dataclass(frozen=True)
class AudioCase:
    name: str
    body: bytes
    info: AudioInfo
    build: dict[str, Any] | None  # audio_body(**build) == body


def _ab(codec: AudioCodec, pt: int, data: bytes, **kw: Any) -> dict[str, Any]:
    return {"codec": codec, "packet_type": pt, "data": data, **kw}


ASH, ARAW = AudioPacketType.SEQUENCE_HEADER, AudioPacketType.CODED_FRAMES
AAC, MP3, OPUS = AudioCodec.AAC, AudioCodec.MP3, AudioCodec.OPUS
MP3_FRAME = bytes.fromhex("fffb9064") + bytes(8)
OPUS_HEAD = b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00"

AUDIO_CASES: list[AudioCase] = [
    AudioCase(
        "aac-sequence-header", b"\xaf\x00" + ASC, ainfo(AAC, ASH, 2, aac_pt=0, sh=True), _ab(AAC, 0, ASC)
    ),
    AudioCase(
        "aac-raw", b"\xaf\x01\x21\x17\x55", ainfo(AAC, ARAW, 2, aac_pt=1), _ab(AAC, 1, b"\x21\x17\x55")
    ),
    AudioCase(
        "aac-22k-mono-flags",
        b"\xaa\x01\x21",
        ainfo(AAC, ARAW, 2, aac_pt=1, flags=(2, 1, 0)),
        _ab(AAC, 1, b"\x21", sound_rate=2, sound_type=0),
    ),
    AudioCase("mp3", b"\x2f" + MP3_FRAME, ainfo(MP3, ARAW, 1), _ab(MP3, 1, MP3_FRAME)),
    AudioCase(
        "mp3-8k",
        b"\xe2" + MP3_FRAME,
        ainfo(AudioCodec.MP3_8K, ARAW, 1, flags=(0, 1, 0)),
        _ab(AudioCodec.MP3_8K, 1, MP3_FRAME, sound_rate=0, sound_type=0),
    ),
    AudioCase(
        "speex",
        b"\xb6\x00\x01",
        ainfo(AudioCodec.SPEEX, ARAW, 1, flags=(1, 1, 0)),
        _ab(AudioCodec.SPEEX, 1, b"\x00\x01", sound_rate=1, sound_type=0),
    ),
    AudioCase(
        "g711-alaw",
        b"\x72\xd5",
        ainfo(AudioCodec.G711_ALAW, ARAW, 1, flags=(0, 1, 0)),
        _ab(AudioCodec.G711_ALAW, 1, b"\xd5", sound_rate=0, sound_type=0),
    ),
    AudioCase(
        "pcm-8bit",
        b"\x0c\x80",
        ainfo(AudioCodec.LINEAR_PCM, ARAW, 1, flags=(3, 0, 0)),
        _ab(AudioCodec.LINEAR_PCM, 1, b"\x80", sound_size=0, sound_type=0),
    ),
    AudioCase(
        "nellymoser-8k",
        b"\x52\x00",
        ainfo(AudioCodec.NELLYMOSER_8K, ARAW, 1, flags=(0, 1, 0)),
        _ab(AudioCodec.NELLYMOSER_8K, 1, b"\x00", sound_rate=0, sound_type=0),
    ),
    # SRS compat: SRS uses SoundFormat 13 for Opus (reserved in FLV 10.1).
    AudioCase("opus-srs-13", b"\xdf\x00", ainfo(OPUS, ARAW, 1), _ab(OPUS, 1, b"\x00")),
    # Enhanced RTMP v2 ExAudioTagHeader
    AudioCase(
        "ex-mp4a-sequence-start",
        b"\x90mp4a" + ASC,
        ainfo(AAC, ASH, 5, aac_pt=0, sh=True, fourcc="mp4a"),
        _ab(AAC, 0, ASC, enhanced=True),
    ),
    AudioCase(
        "ex-mp4a-coded-frames",
        b"\x91mp4a\x21\x17",
        ainfo(AAC, ARAW, 5, aac_pt=1, fourcc="mp4a"),
        _ab(AAC, 1, b"\x21\x17", enhanced=True),
    ),
    AudioCase(
        "ex-opus-sequence-start",
        b"\x90Opus" + OPUS_HEAD,
        ainfo(OPUS, ASH, 5, sh=True, fourcc="Opus"),
        _ab(OPUS, 0, OPUS_HEAD, enhanced=True),
    ),
    AudioCase(
        "ex-opus-coded-frames",
        b"\x91Opus\xfc\xff\xfe",
        ainfo(OPUS, ARAW, 5, fourcc="Opus"),
        _ab(OPUS, 1, b"\xfc\xff\xfe", enhanced=True),
    ),
    AudioCase(
        "ex-opus-sequence-end",
        b"\x92Opus",
        ainfo(OPUS, AudioPacketType.SEQUENCE_END, 5, fourcc="Opus"),
        _ab(OPUS, 2, b"", enhanced=True),
    ),
    AudioCase(
        "ex-opus-multichannel-config",
        b"\x94Opus\x01\x02\x00\x00\x00\x03",
        ainfo(OPUS, AudioPacketType.MULTICHANNEL_CONFIG, 5, fourcc="Opus"),
        _ab(OPUS, 4, b"\x01\x02\x00\x00\x00\x03", enhanced=True),
    ),
    AudioCase(
        "ex-mp3",
        b"\x91.mp3" + MP3_FRAME,
        ainfo(MP3, ARAW, 5, fourcc=".mp3"),
        _ab(MP3, 1, MP3_FRAME, enhanced=True),
    ),
    AudioCase(
        "ex-ac3-sequence-start",
        b"\x90ac-3",
        ainfo(AudioCodec.AC3, ASH, 5, sh=True, fourcc="ac-3"),
        _ab(AudioCodec.AC3, 0, b"", enhanced=True),
    ),
    AudioCase(
        "ex-eac3-coded-frames",
        b"\x91ec-3\x0b\x77",
        ainfo(AudioCodec.EAC3, ARAW, 5, fourcc="ec-3"),
        _ab(AudioCodec.EAC3, 1, b"\x0b\x77", enhanced=True),
    ),
    AudioCase(
        "ex-flac-sequence-start",
        b"\x90fLaC\x00\x00\x00\x22",
        ainfo(AudioCodec.FLAC, ASH, 5, sh=True, fourcc="fLaC"),
        _ab(AudioCodec.FLAC, 0, b"\x00\x00\x00\x22", enhanced=True),
    ),
    AudioCase(
        "ex-modex-timestamp-offset-nano",
        b"\x97\x02\x00\x03\xe8\x01Opus\xfc",
        ainfo(OPUS, ARAW, 10, fourcc="Opus", nano=1000),
        None,
    ),
    AudioCase(
        "ex-multitrack-one-track",
        b"\x95\x00mp4a\x02" + ASC,
        ainfo(AAC, ASH, 7, aac_pt=0, sh=True, fourcc="mp4a", track_id=2),
        _ab(AAC, 0, ASC, enhanced=True, track_id=2),
    ),
]

AUDIO_ERRORS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("reserved-format-12", b"\xc0\x00"),
    ("aac-without-packet-type", b"\xaf"),
    ("aac-packet-type-2", b"\xaf\x02"),
    ("ex-reserved-packet-type-3", b"\x93Opus"),
    ("ex-reserved-packet-type-8", b"\x98Opus"),
    ("ex-unknown-fourcc", b"\x91OPUS"),
    ("ex-truncated-fourcc", b"\x90mp"),
    ("ex-many-tracks", b"\x95\x11Opus\x00\x00\x00\x01\xfc"),
    ("ex-nested-multitrack", b"\x95\x05Opus\x00"),
    ("ex-multitrack-no-track-id", b"\x95\x01Opus"),
    ("ex-modex-truncated", b"\x97\x03\x00"),
]

# --- whole tags: (name, (tag type, timestamp, body), encoded bytes)
TAG_CASES: list[tuple[str, tuple[int, int, bytes], bytes]] = [
    (
        "audio-ts-0",
        (TagType.AUDIO, 0, b"\xaf\x01\x21"),
        bytes.fromhex("08 000003 000000 00 000000 af0121 0000000e"),
    ),
    (
        "video-extended-timestamp",
        (TagType.VIDEO, 0x12345678, b"\x17\x01\x00\x00\x00"),
        bytes.fromhex("09 000005 345678 12 000000 1701000000 00000010"),
    ),
    (
        "script-empty-body",
        (TagType.SCRIPT, 40, b""),
        bytes.fromhex("12 000000 000028 00 000000 0000000b"),
    ),
    (
        "timestamp-max",
        (TagType.VIDEO, 0xFFFFFFFF, b"\x27"),
        bytes.fromhex("09 000001 ffffff ff 000000 27 0000000c"),
    ),
]

# timestamps outside 0..2^32-1 are taken modulo 2^32: (given, written)
TIMESTAMP_WRAP_CASES = [(1 << 32, 0), ((1 << 32) + 5, 5), (-1, 0xFFFFFFFF)]

HEADER_CASES: list[tuple[bool, bool, bytes]] = [
    (True, True, bytes.fromhex("464c5601 05 00000009 00000000")),
    (True, False, bytes.fromhex("464c5601 04 00000009 00000000")),
    (False, True, bytes.fromhex("464c5601 01 00000009 00000000")),
    (False, False, bytes.fromhex("464c5601 00 00000009 00000000")),
]
