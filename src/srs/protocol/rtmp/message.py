"""RTMP message types and the wire structs carried inside messages.

Adobe RTMP specification 1.0, section 5.4 (protocol control messages 1, 2, 3, 5, 6), 6.2 (user
control messages, type 4) and 7.1 (command, data, shared object, audio, video and aggregate
messages). Every struct here parses with ``parse(payload)`` and serializes with ``bytes(x)``; the
two round-trip byte for byte for canonical input. Parsers raise only :class:`ParseError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from srs.format import amf0
from srs.util.errors import ErrorCode, ParseError


class MessageType(IntEnum):
    """RTMP message type ids (spec 5.4, 6.2, 7.1)."""

    SET_CHUNK_SIZE = 1
    ABORT = 2
    ACKNOWLEDGEMENT = 3
    USER_CONTROL = 4
    WINDOW_ACK_SIZE = 5
    SET_PEER_BANDWIDTH = 6
    AUDIO = 8
    VIDEO = 9
    AMF3_DATA = 15
    AMF3_SHARED_OBJECT = 16
    AMF3_COMMAND = 17
    AMF0_DATA = 18
    AMF0_SHARED_OBJECT = 19
    AMF0_COMMAND = 20
    AGGREGATE = 22


class UserControl(IntEnum):
    """User control event types (spec 6.2 / 7.1.7; 26+ as Flash and SRS use them)."""

    STREAM_BEGIN = 0
    STREAM_EOF = 1
    STREAM_DRY = 2
    SET_BUFFER_LENGTH = 3
    STREAM_IS_RECORDED = 4
    PING_REQUEST = 6
    PING_RESPONSE = 7
    FMS_EVENT0 = 0x1A  # SWF verification request: SRS reads a 1-byte event data
    SWF_VERIFY_RESPONSE = 0x1B
    BUFFER_EMPTY = 0x1F
    BUFFER_READY = 0x20


# Chunk stream ids as SRS uses them (RTMP_CID_* in srs_protocol_rtmp_stack.hpp).
CSID_PROTOCOL_CONTROL = 2
CSID_OVER_CONNECTION = 3
CSID_OVER_CONNECTION2 = 4
CSID_OVER_STREAM = 5
CSID_VIDEO = 6
CSID_AUDIO = 7
CSID_OVER_STREAM2 = 8

# Limits of the chunk size a peer may announce (SRS_CONSTS_RTMP_MIN/MAX_CHUNK_SIZE).
MIN_CHUNK_SIZE = 128
MAX_CHUNK_SIZE = 65536
DEFAULT_CHUNK_SIZE = 128

# The message stream id SRS answers createStream with and uses for the media stream.
DEFAULT_STREAM_ID = 1

# Peer bandwidth limit types (spec 5.4.5).
LIMIT_HARD = 0
LIMIT_SOFT = 1
LIMIT_DYNAMIC = 2

_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


def media_csid(msg_type: int) -> int:
    """The chunk stream SRS sends a message of ``msg_type`` on to players.

    SRS builds player-bound messages with ``SrsMessageHeader::initialize_audio/video/amf0_script``:
    audio on 7, video on 6, script data (metadata) on 4. Anything else goes over the stream (5).
    """
    if msg_type == MessageType.AUDIO:
        return CSID_AUDIO
    if msg_type == MessageType.VIDEO:
        return CSID_VIDEO
    if msg_type == MessageType.AMF0_DATA or msg_type == MessageType.AMF3_DATA:
        return CSID_OVER_CONNECTION2
    return CSID_OVER_STREAM


def _decode_err(what: str, need: int, have: int) -> ParseError:
    return ParseError(f"rtmp {what}: requires {need} bytes, only {have}", ErrorCode.RTMP_MESSAGE_DECODE)


# --------------------------------------------------------------------------- protocol control


@dataclass(frozen=True, slots=True)
class SetChunkSize:
    """Set Chunk Size (type 1, spec 5.4.1): 31-bit size, bit 31 must be zero."""

    size: int

    @classmethod
    def parse(cls, payload: bytes) -> SetChunkSize:
        if len(payload) < 4:
            raise _decode_err("set chunk size", 4, len(payload))
        return cls(_U32.unpack_from(payload)[0])

    def __bytes__(self) -> bytes:
        return _U32.pack(self.size & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class AbortMessage:
    """Abort Message (type 2, spec 5.4.2): drop the partial message of ``csid``."""

    csid: int

    @classmethod
    def parse(cls, payload: bytes) -> AbortMessage:
        if len(payload) < 4:
            raise _decode_err("abort", 4, len(payload))
        return cls(_U32.unpack_from(payload)[0])

    def __bytes__(self) -> bytes:
        return _U32.pack(self.csid & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """Acknowledgement (type 3, spec 5.4.3): bytes received so far (sequence number)."""

    sequence: int

    @classmethod
    def parse(cls, payload: bytes) -> Acknowledgement:
        if len(payload) < 4:
            raise _decode_err("acknowledgement", 4, len(payload))
        return cls(_U32.unpack_from(payload)[0])

    def __bytes__(self) -> bytes:
        return _U32.pack(self.sequence & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class WindowAckSize:
    """Window Acknowledgement Size (type 5, spec 5.4.4)."""

    size: int

    @classmethod
    def parse(cls, payload: bytes) -> WindowAckSize:
        if len(payload) < 4:
            raise _decode_err("window ack size", 4, len(payload))
        return cls(_U32.unpack_from(payload)[0])

    def __bytes__(self) -> bytes:
        return _U32.pack(self.size & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class SetPeerBandwidth:
    """Set Peer Bandwidth (type 6, spec 5.4.5): window size plus limit type (0 hard, 1 soft, 2 dynamic)."""

    size: int
    limit_type: int = LIMIT_DYNAMIC

    @classmethod
    def parse(cls, payload: bytes) -> SetPeerBandwidth:
        if len(payload) < 5:
            raise _decode_err("set peer bandwidth", 5, len(payload))
        return cls(_U32.unpack_from(payload)[0], payload[4])

    def __bytes__(self) -> bytes:
        return _U32.pack(self.size & 0xFFFFFFFF) + bytes((self.limit_type & 0xFF,))


@dataclass(frozen=True, slots=True)
class UserControlMessage:
    """User Control Message (type 4, spec 6.2 and 7.1.7).

    Layout as SRS decodes it (``SrsUserControlPacket``): event type (2 bytes), event data (4 bytes,
    or 1 byte for event 0x1a), then for SetBufferLength the buffer length in ms (4 bytes, ``extra``).
    """

    event_type: int
    value: int = 0
    extra: int = 0

    @classmethod
    def parse(cls, payload: bytes) -> UserControlMessage:
        n = len(payload)
        if n < 2:
            raise _decode_err("user control", 2, n)
        event = _U16.unpack_from(payload)[0]
        if event == UserControl.FMS_EVENT0:
            if n < 3:
                raise _decode_err("user control event 0x1a", 3, n)
            return cls(event, payload[2])
        if n < 6:
            raise _decode_err("user control", 6, n)
        value = _U32.unpack_from(payload, 2)[0]
        extra = 0
        if event == UserControl.SET_BUFFER_LENGTH:
            if n < 10:
                raise _decode_err("user control set buffer length", 10, n)
            extra = _U32.unpack_from(payload, 6)[0]
        return cls(event, value, extra)

    def __bytes__(self) -> bytes:
        head = _U16.pack(self.event_type & 0xFFFF)
        if self.event_type == UserControl.FMS_EVENT0:
            return head + bytes((self.value & 0xFF,))
        body = head + _U32.pack(self.value & 0xFFFFFFFF)
        if self.event_type == UserControl.SET_BUFFER_LENGTH:
            body += _U32.pack(self.extra & 0xFFFFFFFF)
        return body


# --------------------------------------------------------------------------- commands and data


def _amf_err(msg: str) -> ParseError:
    return ParseError(f"rtmp: {msg}", ErrorCode.RTMP_AMF0_DECODE)


@dataclass(frozen=True, slots=True)
class Command:
    """A command message (type 20 AMF0, type 17 AMF3; spec 7.1.1 and 7.2).

    Body: command name (string), transaction id (number), command object (any value, often null),
    then optional arguments. An AMF3 command is one format byte (0x00) followed by the same AMF0
    values (AVM+ switches inside are decoded by :mod:`srs.format.amf3`).
    """

    name: str
    transaction_id: float
    command_object: Any = None
    args: tuple[Any, ...] = ()

    @classmethod
    def parse(cls, payload: bytes, *, amf3: bool = False) -> Command:
        start = 1 if amf3 and payload else 0  # SRS skips the AMF3 format byte whatever it is
        values = amf0.decode_all(payload[start:] if start else payload)
        if not values or not isinstance(values[0], str):
            raise _amf_err("command name must be a string")
        if len(values) < 2 or not isinstance(values[1], float):
            raise _amf_err(f"command {values[0]!r}: transaction id must be a number")
        if len(values) < 3:
            raise _amf_err(f"command {values[0]!r}: missing command object")
        return cls(values[0], values[1], values[2], tuple(values[3:]))

    def encode(self, *, amf3: bool = False) -> bytes:
        body = amf0.encode(self.name, float(self.transaction_id), self.command_object, *self.args)
        return b"\x00" + body if amf3 else body

    def __bytes__(self) -> bytes:
        return self.encode()


SET_DATA_FRAME = "@setDataFrame"
ON_METADATA = "onMetaData"


@dataclass(frozen=True, slots=True)
class DataMessage:
    """A data message (type 18 AMF0, type 15 AMF3; spec 7.1.2): a name then values.

    ``@setDataFrame`` is kept as the name here; :meth:`strip_set_data_frame` gives the inner name.
    """

    name: str
    values: tuple[Any, ...] = ()

    @classmethod
    def parse(cls, payload: bytes, *, amf3: bool = False) -> DataMessage:
        # A data message always starts with a string (marker 0x02). Flash, librtmp and nginx-rtmp put
        # a format byte 0x00 before AMF3 data; SRS does not skip it. Accept both forms.
        if amf3 and payload[:1] == b"\x00":
            payload = payload[1:]
        values = amf0.decode_all(payload)
        if not values or not isinstance(values[0], str):
            raise _amf_err("data message name must be a string")
        return cls(values[0], tuple(values[1:]))

    def encode(self, *, amf3: bool = False) -> bytes:
        body = amf0.encode(self.name, *self.values)
        return b"\x00" + body if amf3 else body

    def __bytes__(self) -> bytes:
        return self.encode()

    def strip_set_data_frame(self) -> DataMessage:
        """``@setDataFrame, "onMetaData", {...}`` -> ``"onMetaData", {...}`` (SrsOnMetaDataPacket)."""
        if self.name == SET_DATA_FRAME and self.values and isinstance(self.values[0], str):
            return DataMessage(self.values[0], self.values[1:])
        return self


def is_ffmpeg_timecode(payload: bytes) -> bool:
    """FFmpeg sends a 4-byte timecode as a data message; SRS ignores it (ossrs/srs#3803)."""
    return len(payload) == 4 and payload[0] == 0x00


# --------------------------------------------------------------------------- aggregate

_AGG_HEADER = 11  # type(1) size(3) timestamp(3) timestamp-extended(1) stream id(3)


def _agg_err(msg: str) -> ParseError:
    return ParseError(f"rtmp aggregate: {msg}", ErrorCode.RTMP_AGGREGATE)


def unpack_aggregate(payload: bytes, timestamp: int) -> list[tuple[int, int, int, bytes]]:
    """Split an aggregate message (type 22, spec 7.1.6) into ``(msg_type, timestamp, stream_id, payload)``.

    Each sub-message is an FLV-tag-like header (11 bytes), its body, then a 4-byte back pointer.
    As SRS (``SrsLiveSource::on_aggregate``), sub-message timestamps are re-based so that the first
    one equals the aggregate's own timestamp (the offset is taken once, from the first sub-message);
    the back pointer is read but, SRS compat, not checked, since encoders disagree on it.
    Differences between sub-message timestamps are taken modulo 2^32 (signed) so a wrap inside an
    aggregate stays monotonic; results never go below zero.
    """
    out: list[tuple[int, int, int, bytes]] = []
    n = len(payload)
    pos = 0
    first: int | None = None
    while pos < n:
        if pos + _AGG_HEADER > n:
            raise _agg_err(f"truncated sub-message header at {pos}")
        msg_type = payload[pos]
        size = int.from_bytes(payload[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(payload[pos + 4 : pos + 7], "big") | (payload[pos + 7] << 24)
        stream_id = int.from_bytes(payload[pos + 8 : pos + 11], "big")
        pos += _AGG_HEADER
        if pos + size > n:
            raise _agg_err(f"sub-message of {size} bytes exceeds the aggregate")
        body = payload[pos : pos + size]
        pos += size
        if pos + 4 > n:
            raise _agg_err("missing back pointer")
        pos += 4
        if first is None:
            first = ts
        rel = (ts - first) & 0xFFFFFFFF
        if rel >= 0x80000000:
            rel -= 0x100000000
        out.append((msg_type, max(0, timestamp + rel), stream_id, body))
    return out


def pack_aggregate(messages: list[tuple[int, int, int, bytes]]) -> bytes:
    """Build an aggregate body from ``(msg_type, timestamp, stream_id, payload)`` (back pointer = 11 + size)."""
    parts: list[bytes] = []
    for msg_type, ts, stream_id, body in messages:
        ts32 = ts & 0xFFFFFFFF
        size = len(body)
        parts.append(
            bytes((msg_type & 0xFF,))
            + size.to_bytes(3, "big")
            + (ts32 & 0xFFFFFF).to_bytes(3, "big")
            + bytes((ts32 >> 24,))
            + (stream_id & 0xFFFFFF).to_bytes(3, "big")
        )
        parts.append(body)
        parts.append(_U32.pack(_AGG_HEADER + size))
    return b"".join(parts)
