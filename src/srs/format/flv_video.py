"""FLV/RTMP video tag bodies: legacy ``VIDEODATA`` (Adobe FLV 10.1 E.4.3) and Enhanced RTMP ``ExVideoTagHeader``.

Import these names from :mod:`srs.format.flv`; this module exists only to keep files small.

Legacy layout::

    FrameType UB[4] | CodecID UB[4] | (AVC-like codecs:) AVCPacketType UI8, CompositionTime SI24 | data

SRS compat: HEVC with legacy codec id 12 and AV1 with id 13 (a Chinese CDN convention SRS accepts) use the
AVC layout. Enhanced RTMP (veovera/enhanced-rtmp v1/v2) sets the top bit of the first byte (IsExHeader):
the low nibble becomes the VideoPacketType and a FourCC follows; v2 adds ModEx prefixes (parsed: the
TimestampOffsetNano value is reported) and Multitrack (parsed for ``OneTrack``; several tracks in one
message raise :class:`ParseError`).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from srs.format.flv_modex import read_mod_ex
from srs.util.errors import ErrorCode, ParseError


class FrameType(IntEnum):
    """Video FrameType (FLV 10.1 E.4.3.1; E-RTMP VideoFrameType)."""

    KEY = 1
    INTER = 2
    DISPOSABLE = 3  # H.263 only
    GENERATED = 4  # reserved for server use
    COMMAND = 5  # video info/command frame


class VideoCodec(IntEnum):
    """Video codec, as the legacy FLV CodecID where one exists."""

    JPEG = 1
    SORENSON = 2  # Sorenson H.263
    SCREEN = 3
    VP6 = 4
    VP6A = 5  # VP6 with alpha channel
    SCREEN2 = 6
    AVC = 7
    HEVC = 12  # SRS compat: legacy id used by Chinese CDNs; E-RTMP uses FourCC 'hvc1'
    AV1 = 13  # SRS compat: legacy id; E-RTMP uses FourCC 'av01'
    VP9 = 14  # SRS's internal id; only reachable through FourCC 'vp09'
    VP8 = 16  # not an FLV id: FourCC 'vp08' only
    VVC = 17  # not an FLV id: FourCC 'vvc1' only


class VideoPacketType(IntEnum):
    """Normalised packet type: legacy AVCPacketType 0..2 and E-RTMP VideoPacketType share these numbers."""

    SEQUENCE_HEADER = 0
    CODED_FRAMES = 1
    END_OF_SEQUENCE = 2
    CODED_FRAMES_X = 3  # E-RTMP: coded frames with composition time 0 (no SI24 on the wire)
    METADATA = 4  # E-RTMP: AMF-encoded metadata (e.g. colorInfo); FrameType is ignored
    MPEG2TS_SEQUENCE_START = 5  # E-RTMP: AV1 video descriptor
    MULTITRACK = 6
    MOD_EX = 7
    # The names the two specifications use for the same values.
    SEQUENCE_START = 0
    NALU = 1
    SEQUENCE_END = 2


class VideoInfo(NamedTuple):
    """What :func:`parse_video` learnt from a video tag body (a NamedTuple: cheap to build per message)."""

    codec: VideoCodec | None  # None only for an E-RTMP command frame, which carries no FourCC
    frame_type: FrameType
    packet_type: VideoPacketType
    composition_time_ms: int  # signed; 0 for CodedFramesX and codecs without composition time
    data_offset: int  # where the avcC/hvcC/NALU/OBU data starts in the body
    enhanced: bool
    fourcc: str | None
    is_keyframe: bool
    is_sequence_header: bool
    command: int | None = None  # VideoCommand byte of a COMMAND frame
    track_id: int | None = None  # E-RTMP Multitrack (OneTrack) track id
    timestamp_offset_nano: int | None = None  # E-RTMP v2 ModEx TimestampOffsetNano


_FRAME_TYPES: tuple[FrameType | None, ...] = (None, *FrameType, None, None)
_PACKET_TYPES: tuple[VideoPacketType | None, ...] = tuple(
    VideoPacketType(i) if i <= 7 else None for i in range(16)
)
_LEGACY_CODECS: tuple[VideoCodec | None, ...] = tuple(
    VideoCodec(i) if i in (1, 2, 3, 4, 5, 6, 7, 12, 13) else None for i in range(16)
)
# Codecs whose legacy tag carries AVCPacketType + CompositionTime (FLV 10.1 E.4.3.1; SRS for 12/13).
_AVC_LIKE = frozenset({VideoCodec.AVC, VideoCodec.HEVC, VideoCodec.AV1})
_FOURCC_CODECS = {
    b"avc1": VideoCodec.AVC,
    b"hvc1": VideoCodec.HEVC,
    b"av01": VideoCodec.AV1,
    b"vp09": VideoCodec.VP9,
    b"vp08": VideoCodec.VP8,
    b"vvc1": VideoCodec.VVC,
}
_CODEC_FOURCCS = {v: k for k, v in _FOURCC_CODECS.items()}
_FOURCC_TUPLE = tuple(_FOURCC_CODECS)
# E-RTMP: only the NALU-based codecs put an SI24 composition time after the FourCC in CodedFrames.
_CTS_FOURCC_CODECS = frozenset({VideoCodec.AVC, VideoCodec.HEVC, VideoCodec.VVC})
_LEGACY_SH_CODEC_IDS = frozenset({7, 12, 13})

_MULTITRACK_ONE_TRACK = 0


def _err(msg: str) -> ParseError:
    return ParseError(msg, ErrorCode.FLV_INVALID_VIDEO_TAG)


def parse_video(body: bytes) -> VideoInfo:
    """Parse the header of a video tag body (legacy or Enhanced RTMP); the payload itself is not touched."""
    n = len(body)
    if n == 0:
        raise _err("empty video tag")
    b0 = body[0]
    if b0 & 0x80:
        return _parse_ex_video(body, n, b0)
    frame_type = _FRAME_TYPES[b0 >> 4]
    if frame_type is None:
        raise _err(f"invalid video frame type {b0 >> 4}")
    codec = _LEGACY_CODECS[b0 & 0x0F]
    if codec is None:
        raise _err(f"unknown video codec id {b0 & 0x0F}")
    if codec not in _AVC_LIKE:
        command = body[1] if frame_type is FrameType.COMMAND and n > 1 else None
        return VideoInfo(
            codec,
            frame_type,
            VideoPacketType.CODED_FRAMES,
            0,
            1,
            False,
            None,
            frame_type is FrameType.KEY,
            False,
            command,
        )
    if n < 5:
        if frame_type is FrameType.COMMAND:
            # SRS compat: an info/command frame is ignored without error, even a short one (SRS #288).
            return VideoInfo(codec, frame_type, VideoPacketType.CODED_FRAMES, 0, n, False, None, False, False)
        raise _err(f"video tag of {n} bytes is shorter than the 5-byte AVC header")
    packet_type = _PACKET_TYPES[body[1]] if body[1] <= 2 else None
    if packet_type is None:
        raise _err(f"invalid AVCPacketType {body[1]}")
    cts = (body[2] << 16) | (body[3] << 8) | body[4]
    if cts & 0x800000:
        cts -= 0x1000000  # CompositionTime is SI24 (FLV 10.1 E.4.3.1)
    key = frame_type is FrameType.KEY
    command = body[5] if frame_type is FrameType.COMMAND and n > 5 else None
    # SRS compat: a sequence header must be flagged as a key frame (SrsFlvVideo::sh).
    return VideoInfo(
        codec, frame_type, packet_type, cts, 5, False, None, key, key and packet_type == 0, command
    )


def _parse_ex_video(body: bytes, n: int, b0: int) -> VideoInfo:
    # Enhanced RTMP v2 "ExVideoTagHeader": IsExHeader UB[1] | VideoFrameType UB[3] | VideoPacketType UB[4].
    frame_type = _FRAME_TYPES[(b0 >> 4) & 0x07]
    if frame_type is None:
        raise _err(f"invalid video frame type {(b0 >> 4) & 0x07}")
    pt = b0 & 0x0F
    pos = 1
    pos, pt, nano = read_mod_ex(body, pos, pt, _err)
    packet_type = _PACKET_TYPES[pt]
    if packet_type is None:
        raise _err(f"reserved video packet type {pt}")
    if frame_type is FrameType.COMMAND and packet_type is not VideoPacketType.METADATA:
        # "ExVideoTagBody has no payload": just videoCommand UI8, no FourCC.
        if pos >= n:
            raise _err("truncated video command")
        return VideoInfo(
            None, frame_type, packet_type, 0, pos + 1, True, None, False, False, body[pos], None, nano
        )
    track_id: int | None = None
    if packet_type is VideoPacketType.MULTITRACK:
        if pos >= n:
            raise _err("truncated multitrack header")
        multitrack_type = body[pos] >> 4
        packet_type = _PACKET_TYPES[body[pos] & 0x0F]
        pos += 1
        if packet_type is None or packet_type in (VideoPacketType.MULTITRACK, VideoPacketType.MOD_EX):
            raise _err(f"invalid packet type {body[pos - 1] & 0x0F} inside multitrack")
        if multitrack_type != _MULTITRACK_ONE_TRACK:
            raise _err(f"multitrack type {multitrack_type} (several tracks per message) is not supported")
    if pos + 4 > n:
        raise _err("truncated video FourCC")
    fourcc = body[pos : pos + 4]
    codec = _FOURCC_CODECS.get(fourcc)
    if codec is None:
        raise _err(f"unknown video FourCC {fourcc!r}")
    pos += 4
    if pt == VideoPacketType.MULTITRACK:
        if pos >= n:
            raise _err("truncated multitrack track id")
        track_id = body[pos]
        pos += 1
    cts = 0
    if packet_type is VideoPacketType.CODED_FRAMES and codec in _CTS_FOURCC_CODECS:
        if pos + 3 > n:
            raise _err("truncated composition time")
        cts = (body[pos] << 16) | (body[pos + 1] << 8) | body[pos + 2]
        if cts & 0x800000:
            cts -= 0x1000000
        pos += 3
    key = frame_type is FrameType.KEY and packet_type is not VideoPacketType.METADATA
    sh = key and (
        packet_type is VideoPacketType.SEQUENCE_HEADER
        or packet_type is VideoPacketType.MPEG2TS_SEQUENCE_START
    )
    return VideoInfo(
        codec,
        frame_type,
        packet_type,
        cts,
        pos,
        True,
        fourcc.decode("latin-1"),
        key,
        sh,
        None,
        track_id,
        nano,
    )


def _slow_info(body: bytes) -> VideoInfo | None:
    try:
        return parse_video(body)
    except ParseError:
        return None


def is_video_keyframe(body: bytes) -> bool:
    """True for a key frame (FrameType 1), legacy or Enhanced RTMP; never raises.

    SRS compat: only FrameType 1 counts (SrsFlvVideo::keyframe), not 4 (generated key frame). An E-RTMP
    Metadata packet is not a key frame whatever its FrameType bits say (the spec says to ignore them).
    """
    if not body:
        return False
    b0 = body[0]
    if not b0 & 0x80:
        return b0 >> 4 == 1
    pt = b0 & 0x0F
    if pt == VideoPacketType.MOD_EX:
        info = _slow_info(body)
        return info is not None and info.is_keyframe
    return (b0 >> 4) & 0x07 == 1 and pt != VideoPacketType.METADATA


def is_video_sequence_header(body: bytes) -> bool:
    """True for an AVC/HEVC/AV1 (legacy) or FourCC (E-RTMP) sequence header on a key frame; never raises."""
    n = len(body)
    if n < 2:
        return False
    b0 = body[0]
    if not b0 & 0x80:
        return b0 >> 4 == 1 and (b0 & 0x0F) in _LEGACY_SH_CODEC_IDS and body[1] == 0 and n >= 5
    pt = b0 & 0x0F
    if pt == VideoPacketType.MOD_EX or pt == VideoPacketType.MULTITRACK:
        info = _slow_info(body)
        return info is not None and info.is_sequence_header
    return (
        (b0 >> 4) & 0x07 == 1
        and (pt == 0 or pt == VideoPacketType.MPEG2TS_SEQUENCE_START)
        and body.startswith(_FOURCC_TUPLE, 1)
    )


def video_body(
    codec: VideoCodec,
    frame_type: int,
    packet_type: int,
    cts: int,
    data: bytes,
    *,
    enhanced: bool = False,
    track_id: int | None = None,
) -> bytes:
    """Build a video tag body; the inverse of :func:`parse_video`.

    Legacy AVC/HEVC(12)/AV1(13) get ``AVCPacketType`` + ``CompositionTime``; other legacy codecs only the
    first byte. ``enhanced`` writes an E-RTMP ExVideoTagHeader with the codec's FourCC (SI24 composition
    time only for CodedFrames of avc1/hvc1/vvc1); ``track_id`` wraps it in a OneTrack Multitrack header.
    For a COMMAND frame ``data`` is the command byte (E-RTMP: no FourCC).
    """
    if not 1 <= frame_type <= 5:
        raise ValueError(f"invalid frame type {frame_type}")
    if not -0x800000 <= cts <= 0x7FFFFF:
        raise ValueError(f"composition time {cts} does not fit SI24")
    if enhanced:
        if not 0 <= packet_type <= VideoPacketType.MPEG2TS_SEQUENCE_START:
            raise ValueError(f"invalid E-RTMP packet type {packet_type}")
        if frame_type == FrameType.COMMAND and packet_type != VideoPacketType.METADATA:
            return bytes((0x80 | (frame_type << 4) | packet_type,)) + data
        fourcc = _CODEC_FOURCCS.get(codec)
        if fourcc is None:
            raise ValueError(f"no E-RTMP FourCC for {codec!r}")
        if track_id is None:
            head = bytes((0x80 | (frame_type << 4) | packet_type,)) + fourcc
        else:
            head = (
                bytes(
                    (
                        0x80 | (frame_type << 4) | VideoPacketType.MULTITRACK,
                        (_MULTITRACK_ONE_TRACK << 4) | packet_type,
                    )
                )
                + fourcc
                + bytes((track_id,))
            )
        if packet_type == VideoPacketType.CODED_FRAMES and codec in _CTS_FOURCC_CODECS:
            head += cts.to_bytes(3, "big", signed=True)
        return head + data
    if codec not in _LEGACY_CODECS:
        raise ValueError(f"{codec!r} has no legacy FLV codec id")
    if codec in _AVC_LIKE:
        if not 0 <= packet_type <= 2:
            raise ValueError(f"invalid AVCPacketType {packet_type}")
        return bytes(((frame_type << 4) | codec, packet_type)) + cts.to_bytes(3, "big", signed=True) + data
    return bytes(((frame_type << 4) | codec,)) + data
