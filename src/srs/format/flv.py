"""FLV container (Adobe FLV 10.1 Annex E) and the tag bodies RTMP shares with it.

* :func:`header` / :func:`encode_tag` write HTTP-FLV and DVR files; :func:`encode_tag` is the hot path of
  HTTP-FLV (one call per media message, the bytes shared by every player).
* :class:`FlvReader` is a sans-IO incremental reader (HTTP-FLV ingest, edge pull, files).
* :func:`parse_video` / :func:`parse_audio` and the ``is_*`` predicates read tag bodies (legacy and
  Enhanced RTMP); they live in :mod:`srs.format.flv_video` / :mod:`srs.format.flv_audio` and are
  re-exported here.

Reader tolerance follows SRS's ``SrsFlvDecoder``: only the ``FLV`` signature of the header is checked,
the Filter/reserved bits of the tag type byte are masked off, and PreviousTagSize is not verified unless
``strict=True``. Unlike SRS, the header's DataOffset is honoured (bytes beyond 9 are skipped) but an
absurd one is refused, and an oversized tag is refused before it is buffered.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from srs.format import amf0
from srs.format.flv_audio import (
    FLV_SAMPLE_RATES,
    AudioCodec,
    AudioInfo,
    AudioPacketType,
    audio_body,
    is_audio_sequence_header,
    parse_audio,
)
from srs.format.flv_video import (
    FrameType,
    VideoCodec,
    VideoInfo,
    VideoPacketType,
    is_video_keyframe,
    is_video_sequence_header,
    parse_video,
    video_body,
)
from srs.util.errors import ErrorCode, LocalProtocolError, ParseError

__all__ = [
    "DEFAULT_MAX_TAG_SIZE",
    "FLV_SAMPLE_RATES",
    "AudioCodec",
    "AudioInfo",
    "AudioPacketType",
    "FlvHeader",
    "FlvReader",
    "FlvTag",
    "FrameType",
    "TagType",
    "VideoCodec",
    "VideoInfo",
    "VideoPacketType",
    "audio_body",
    "audio_codec_name",
    "encode_tag",
    "header",
    "is_audio_sequence_header",
    "is_video_keyframe",
    "is_video_sequence_header",
    "parse_audio",
    "parse_file",
    "parse_video",
    "script_body",
    "video_body",
    "video_codec_name",
]


class TagType(IntEnum):
    """FLV TagType (FLV 10.1 E.4.1); the same numbers as the RTMP message types."""

    AUDIO = 8
    VIDEO = 9
    SCRIPT = 18


DEFAULT_MAX_TAG_SIZE = 16 * 1024 * 1024
MAX_DATA_OFFSET = 1024  # a header larger than this is garbage, not an extension (FLV 10.1 E.2: 9 for v1)

_TAG_TYPES: tuple[TagType | None, ...] = tuple(TagType(i) if i in (8, 9, 18) else None for i in range(32))
_TAG_HEADER = struct.Struct(">IIHB")  # (type << 24 | size), (ts low 24 << 8 | ts ext), stream id (3 bytes)
_U32 = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class FlvHeader:
    """The 9-byte FLV file header (FLV 10.1 E.2)."""

    has_audio: bool
    has_video: bool
    version: int = 1
    data_offset: int = 9

    def __bytes__(self) -> bytes:
        flags = (0x04 if self.has_audio else 0) | (0x01 if self.has_video else 0)
        return b"FLV" + bytes((self.version, flags)) + _U32.pack(self.data_offset)


@dataclass(frozen=True, slots=True)
class FlvTag:
    """One FLV tag: type, 32-bit millisecond timestamp and body (the RTMP message payload)."""

    tag_type: TagType
    timestamp: int
    body: bytes


_HEADERS = {
    (a, v): bytes(FlvHeader(a, v)) + b"\x00\x00\x00\x00" for a in (False, True) for v in (False, True)
}


def header(has_audio: bool, has_video: bool) -> bytes:
    """The 9-byte FLV header followed by PreviousTagSize0 (13 bytes)."""
    return _HEADERS[bool(has_audio), bool(has_video)]


def encode_tag(tag_type: int, timestamp_ms: int, body: bytes) -> bytes:
    """One FLV tag: 11-byte header + body + PreviousTagSize (FLV 10.1 E.3, E.4.1).

    The timestamp is taken modulo 2^32: low 24 bits, then TimestampExtended as the upper 8 bits;
    StreamID is always 0. Hot path of HTTP-FLV: one struct pack and one join.
    """
    n = len(body)
    if n > 0xFFFFFF:
        raise LocalProtocolError(f"FLV tag body of {n} bytes exceeds the 24-bit DataSize")
    ts = timestamp_ms & 0xFFFFFFFF
    return b"".join(
        (
            _TAG_HEADER.pack((tag_type << 24) | n, ((ts & 0xFFFFFF) << 8) | (ts >> 24), 0, 0),
            body,
            _U32.pack(n + 11),
        )
    )


def script_body(name: str, value: Any) -> bytes:
    """A SCRIPTDATA body: AMF0 name string then value, e.g. ``script_body("onMetaData", EcmaArray(...))``."""
    return amf0.encode(name, value)


class FlvReader:
    """Incremental, sans-IO FLV reader: ``feed(bytes) -> [FlvTag]``.

    Raises :class:`ParseError` for a bad signature (``KERNEL_FLV_HEADER``), an absurd DataOffset, an unknown
    tag type (``STREAM_CASTER_FLV_TAG``, like SRS's ``srs_rtmp_create_msg``) or a tag larger than
    ``max_tag_size``; after an error every later ``feed`` raises the same error. PreviousTagSize mismatches
    are counted in :attr:`prev_tag_size_mismatches` and only raise with ``strict=True``.
    """

    __slots__ = ("_buf", "_error", "_strict", "header", "max_tag_size", "prev_tag_size_mismatches")

    def __init__(self, *, max_tag_size: int = DEFAULT_MAX_TAG_SIZE, strict: bool = False) -> None:
        self._buf = bytearray()
        self._error: ParseError | None = None
        self._strict = strict
        self.header: FlvHeader | None = None
        self.max_tag_size = max_tag_size
        self.prev_tag_size_mismatches = 0

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a tag."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[FlvTag]:
        if self._error is not None:
            raise self._error
        buf = self._buf
        buf += data
        try:
            pos, tags = self._parse(buf)
        except ParseError as e:
            self._error = e
            buf.clear()
            raise
        if pos:
            del buf[:pos]
        return tags

    def _parse(self, buf: bytearray) -> tuple[int, list[FlvTag]]:
        pos = 0
        end = len(buf)
        if self.header is None:
            if end < 9:
                if buf[: min(end, 3)] != b"FLV"[: min(end, 3)]:
                    raise ParseError("not FLV: bad signature", ErrorCode.KERNEL_FLV_HEADER)
                return 0, []
            if buf[:3] != b"FLV":
                raise ParseError("not FLV: bad signature", ErrorCode.KERNEL_FLV_HEADER)
            data_offset = _U32.unpack_from(buf, 5)[0]
            if not 9 <= data_offset <= MAX_DATA_OFFSET:
                raise ParseError(f"absurd FLV DataOffset {data_offset}", ErrorCode.KERNEL_FLV_HEADER)
            if end < data_offset + 4:
                return 0, []
            if self._strict and _U32.unpack_from(buf, data_offset)[0] != 0:
                raise ParseError("PreviousTagSize0 is not 0", ErrorCode.KERNEL_FLV_HEADER)
            flags = buf[4]
            self.header = FlvHeader(bool(flags & 0x04), bool(flags & 0x01), buf[3], data_offset)
            pos = data_offset + 4
        tags: list[FlvTag] = []
        unpack = _TAG_HEADER.unpack_from
        max_size = self.max_tag_size
        while end - pos >= 11:
            type_size, ts, _, _ = unpack(buf, pos)
            # SRS compat: Reserved UB[2] and Filter UB[1] are masked off (SrsFlvDecoder::read_tag_header).
            tag_type = _TAG_TYPES[(type_size >> 24) & 0x1F]
            if tag_type is None:
                raise ParseError(
                    f"unknown FLV tag type {(type_size >> 24) & 0x1F}", ErrorCode.STREAM_CASTER_FLV_TAG
                )
            size = type_size & 0xFFFFFF
            if size > max_size:
                raise ParseError(f"FLV tag of {size} bytes exceeds the {max_size}-byte limit")
            stop = pos + 11 + size
            if end < stop + 4:
                break
            prev = _U32.unpack_from(buf, stop)[0]
            if prev != size + 11:
                if self._strict:
                    raise ParseError(f"PreviousTagSize {prev} does not match tag size {size + 11}")
                self.prev_tag_size_mismatches += 1
            tags.append(FlvTag(tag_type, ((ts & 0xFF) << 24) | (ts >> 8), bytes(buf[pos + 11 : stop])))
            pos = stop + 4
        return pos, tags


def parse_file(data: bytes, *, strict: bool = False) -> tuple[FlvHeader, list[FlvTag]]:
    """Parse a complete FLV file; a truncated header or last tag raises :class:`ParseError`."""
    reader = FlvReader(max_tag_size=0xFFFFFF, strict=strict)
    tags = reader.feed(data)
    if reader.header is None:
        raise ParseError("truncated FLV header", ErrorCode.KERNEL_FLV_HEADER)
    if reader.pending:
        raise ParseError(f"truncated FLV tag: {reader.pending} trailing bytes")
    return reader.header, tags


# SRS compat: the codec names of the HTTP API (srs_video_codec_id2str / srs_audio_codec_id2str).
_VIDEO_NAMES: dict[int, str] = {
    VideoCodec.AVC: "H264",
    VideoCodec.VP6: "VP6",
    VideoCodec.VP6A: "VP6",
    VideoCodec.HEVC: "HEVC",
    VideoCodec.AV1: "AV1",
}
_AUDIO_NAMES: dict[int, str] = {AudioCodec.AAC: "AAC", AudioCodec.MP3: "MP3", AudioCodec.OPUS: "Opus"}


def video_codec_name(codec: int | None) -> str:
    """SRS's API name of a video codec: ``H264``, ``HEVC``, ``AV1``, ``VP6`` or ``Other``."""
    return _VIDEO_NAMES.get(codec, "Other") if codec is not None else "Other"


def audio_codec_name(codec: int | None) -> str:
    """SRS's API name of an audio codec: ``AAC``, ``MP3``, ``Opus`` or ``Other``."""
    return _AUDIO_NAMES.get(codec, "Other") if codec is not None else "Other"
