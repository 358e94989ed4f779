"""The RTMP chunk stream (Adobe RTMP specification 1.0, section 5.3).

:class:`ChunkReader` turns received bytes into complete messages; :func:`encode_message` turns one
message into chunks. Both are sans-IO.

Chunk format (spec 5.3.1): basic header (1-3 bytes: fmt and chunk stream id), message header
(11/7/3/0 bytes for fmt 0/1/2/3), an optional 4-byte extended timestamp, then at most ``chunk_size``
bytes of payload.

Timestamps are kept as unbounded integers (milliseconds). The wire carries 32 bits: a fmt 0 header
gives the absolute time modulo 2^32, which the reader unwraps against the last timestamp it saw so
the result stays monotonic past 2^32 ms (49.7 days). fmt 1/2 carry a delta (in their 24-bit field,
or in the extended field when that field is 0xFFFFFF), and a fmt 3 message start re-applies the
previous delta (spec 5.3.1.2.4).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from srs.protocol.rtmp.message import DEFAULT_CHUNK_SIZE, MIN_CHUNK_SIZE, MessageType
from srs.util.errors import ErrorCode, ParseError, ProtocolError

EXTENDED_TIMESTAMP = 0xFFFFFF
_MASK32 = 0xFFFFFFFF
_HALF32 = 0x80000000
_U32 = struct.Struct(">I")
_SID = struct.Struct("<I")  # the message stream id is little-endian (spec 5.3.1.2.1)
_MH_SIZES = (11, 7, 3, 0)

DEFAULT_MAX_MESSAGE_SIZE = 16 << 20
DEFAULT_MAX_CHUNK_STREAMS = 256
DEFAULT_MAX_PARTIAL_MESSAGES = 64


class ByteBudget:
    """Bytes that many readers may hold together (partial messages of every connection).

    Each :class:`ChunkReader` given the same budget charges it for the partial payload it holds and
    gives the bytes back when the message completes, is aborted, or the reader is released; a reader
    that would take the total past ``limit`` fails with :class:`ProtocolError`. This bounds the
    memory of all connections together, not only of each one.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One complete RTMP message as it came out of the chunk stream."""

    csid: int
    timestamp: int
    msg_type: int
    stream_id: int
    payload: bytes


class _ChunkStream:
    """Per chunk-stream state: the last header (fields fmt 1-3 inherit) and a partial message."""

    __slots__ = (
        "csid",
        "delta",
        "ext_field",
        "extended",
        "length",
        "msg_type",
        "parts",
        "received",
        "started",
        "stream_id",
        "timestamp",
    )

    def __init__(self, csid: int) -> None:
        self.csid = csid
        self.timestamp = 0  # unbounded ms
        self.delta = 0  # last timestamp field of a fmt 0/1/2 header (absolute for fmt 0, as the spec says)
        self.extended = False  # last fmt 0/1/2 header carried an extended timestamp
        self.ext_field = 0  # its raw 32-bit value
        self.length = 0
        self.msg_type = 0
        self.stream_id = 0
        self.started = False  # at least one chunk seen ("msg_count > 0" in SRS)
        self.parts: list[bytes] | None = None  # not None while a message is partial
        self.received = 0


def _unwrap(value32: int, ref: int) -> int:
    """The unbounded timestamp congruent to ``value32`` mod 2^32 nearest to ``ref``."""
    cand = (ref & ~_MASK32) | value32
    if cand < ref - _HALF32:
        cand += 1 << 32
    elif cand > ref + _HALF32 and cand >= 1 << 32:
        cand -= 1 << 32
    return cand


def _signed32(v: int) -> int:
    return v - (1 << 32) if v & _HALF32 else v


class ChunkReader:
    """Reassembles messages from RTMP chunks; feed bytes, get :class:`RawMessage` objects.

    Set Chunk Size and Abort Message take effect inside the reader, at the exact point of the
    stream where they complete (later chunks of the same ``feed`` depend on them); they are still
    returned so the session can report them. Memory stays bounded: a declared message larger than
    ``max_message_size``, more than ``max_chunk_streams`` chunk stream ids, more than
    ``max_partial_messages`` interleaved partial messages or more than ``max_buffered_bytes`` of
    partial payload raise :class:`ProtocolError`.
    """

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_chunk_streams: int = DEFAULT_MAX_CHUNK_STREAMS,
        max_partial_messages: int = DEFAULT_MAX_PARTIAL_MESSAGES,
        max_buffered_bytes: int | None = None,
        budget: ByteBudget | None = None,
    ) -> None:
        self.chunk_size = DEFAULT_CHUNK_SIZE
        self.budget = budget
        self.bytes_received = 0
        self.max_message_size = max_message_size
        self.max_chunk_streams = max_chunk_streams
        self.max_partial_messages = max_partial_messages
        self.max_buffered_bytes = 2 * max_message_size if max_buffered_bytes is None else max_buffered_bytes
        self._streams: dict[int, _ChunkStream] = {}
        self._buf = b""  # unparsed bytes: never more than a partial chunk header
        self._cur: _ChunkStream | None = None  # chunk whose payload is being read
        self._chunk_left = 0
        self._partials = 0
        self._buffered = 0
        self._last_ts = 0  # reference for unwrapping absolute timestamps

    @property
    def partial_messages(self) -> int:
        return self._partials

    @property
    def buffered_bytes(self) -> int:
        """Payload bytes held in partial messages plus unparsed header bytes."""
        return self._buffered + len(self._buf)

    def release(self) -> None:
        """Drop every partial message and return their bytes to the budget (the connection ends)."""
        self._give_back(self._buffered)
        for cs in self._streams.values():
            cs.parts = None
            cs.received = 0
        self._partials = 0
        self._cur = None
        self._buf = b""

    def _give_back(self, n: int) -> None:
        self._buffered -= n
        if self.budget is not None:
            self.budget.used -= n

    def feed(self, data: bytes) -> list[RawMessage]:
        """Consume ``data``; return every message completed by it, in stream order."""
        self.bytes_received += len(data)
        buf = self._buf + data if self._buf else bytes(data)
        n = len(buf)
        pos = 0
        out: list[RawMessage] = []
        while pos < n:
            cs = self._cur
            if cs is None:
                nxt = self._read_header(buf, pos, n, out)
                if nxt < 0:
                    break
                pos = nxt
                continue
            take = min(self._chunk_left, n - pos)
            parts = cs.parts
            assert parts is not None
            parts.append(buf[pos : pos + take])
            pos += take
            cs.received += take
            self._buffered += take
            budget = self.budget
            if budget is not None:
                budget.used += take  # charged with _buffered, so release() gives back exactly this
                if budget.used > budget.limit:
                    raise ProtocolError(
                        f"rtmp: partial messages of all connections exceed {budget.limit} bytes",
                        ErrorCode.RTMP_MSG_INVALID_SIZE,
                    )
            if self._buffered > self.max_buffered_bytes:
                raise ProtocolError(
                    f"rtmp: {self._buffered} bytes of partial messages exceed {self.max_buffered_bytes}",
                    ErrorCode.RTMP_MSG_INVALID_SIZE,
                )
            self._chunk_left -= take
            if self._chunk_left == 0:
                self._cur = None
                if cs.received == cs.length:
                    self._complete(cs, out)
        self._buf = buf[pos:] if pos < n else b""
        return out

    # ------------------------------------------------------------------ internals

    def _read_header(self, buf: bytes, pos: int, n: int, out: list[RawMessage]) -> int:
        """Parse one chunk header at ``pos``; return the payload offset, or -1 if incomplete.

        Nothing changes until the whole header is available, so feeding byte by byte and feeding
        everything at once give the same result.
        """
        b0 = buf[pos]
        fmt = b0 >> 6
        csid = b0 & 0x3F
        p = pos + 1
        if csid == 0:  # 2-byte form: 64-319 (spec 5.3.1.1)
            if p + 1 > n:
                return -1
            csid = 64 + buf[p]
            p += 1
        elif csid == 1:  # 3-byte form: 64-65599
            if p + 2 > n:
                return -1
            csid = 64 + buf[p] + buf[p + 1] * 256
            p += 2
        mh = _MH_SIZES[fmt]
        if p + mh > n:
            return -1
        cs = self._streams.get(csid)
        ts_field = 0
        if fmt <= 2:
            ts_field = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2]
            extended = ts_field == EXTENDED_TIMESTAMP
        else:
            extended = cs is not None and cs.extended
        ext_at = p + mh
        if extended and ext_at + 4 > n:
            return -1

        # The whole header is here: validate, then commit.
        if cs is None:
            if len(self._streams) >= self.max_chunk_streams:
                raise ProtocolError(
                    f"rtmp: more than {self.max_chunk_streams} chunk streams", ErrorCode.RTMP_CHUNK_START
                )
            cs = _ChunkStream(csid)
            self._streams[csid] = cs
        partial = cs.parts is not None
        # A fresh chunk stream must start with fmt 0; SRS tolerates fmt 1 (librtmp sends its ping so).
        if not cs.started and fmt >= 2:
            raise ProtocolError(
                f"rtmp: fresh chunk stream {csid} starts with fmt={fmt}, expect 0", ErrorCode.RTMP_CHUNK_START
            )
        if partial and fmt == 0:
            raise ProtocolError(
                f"rtmp: fmt=0 chunk inside a partial message of chunk stream {csid}",
                ErrorCode.RTMP_CHUNK_START,
            )

        length = cs.length
        msg_type = cs.msg_type
        stream_id = cs.stream_id
        if fmt <= 1:
            length = (buf[p + 3] << 16) | (buf[p + 4] << 8) | buf[p + 5]
            msg_type = buf[p + 6]
            if fmt == 0:
                stream_id = _SID.unpack_from(buf, p + 7)[0]
            if partial and length != cs.length:
                raise ProtocolError(
                    f"rtmp: message in chunk stream {csid} changes size {cs.length} -> {length}",
                    ErrorCode.RTMP_PACKET_SIZE,
                )
        if not partial and length > self.max_message_size:
            raise ProtocolError(
                f"rtmp: message of {length} bytes exceeds the limit {self.max_message_size}",
                ErrorCode.RTMP_MSG_INVALID_SIZE,
            )

        end = ext_at
        timestamp = cs.timestamp
        if fmt <= 2:
            raw = ts_field
            if extended:
                raw = _U32.unpack_from(buf, ext_at)[0]
                end += 4
                cs.ext_field = raw
            cs.extended = extended
            cs.delta = raw
            timestamp = _unwrap(raw, self._last_ts) if fmt == 0 else max(0, timestamp + _signed32(raw))
        elif not partial:
            # fmt 3 starting a new message: same delta as before (spec 5.3.1.2.4).
            if extended:
                raw = _U32.unpack_from(buf, ext_at)[0]
                end += 4
                if raw == cs.ext_field:
                    timestamp = max(0, timestamp + _signed32(cs.delta))
                else:
                    # SRS compat: SRS takes a differing field of a fmt 3 message start as the
                    # absolute timestamp (srs_protocol_rtmp_stack.cpp, read_message_header).
                    timestamp = _unwrap(raw, self._last_ts)
            else:
                timestamp = max(0, timestamp + _signed32(cs.delta))
        elif extended and _U32.unpack_from(buf, ext_at)[0] == cs.ext_field:
            # fmt 3 continuation: the spec (5.3.1.3) says the extended field is repeated; ffmpeg and
            # Adobe do, some encoders do not. SRS compat: consume the 4 bytes only when they equal
            # the field of the header that started the message, else they are payload.
            end += 4

        cs.started = True
        cs.length = length
        cs.msg_type = msg_type
        cs.stream_id = stream_id
        cs.timestamp = timestamp
        if fmt <= 2 or not partial:
            self._last_ts = timestamp

        if not partial:
            if length == 0:
                # An empty message is complete with its header; SRS hands it up and then drops it.
                out.append(RawMessage(csid, timestamp, msg_type, stream_id, b""))
                return end
            if self._partials >= self.max_partial_messages:
                raise ProtocolError(
                    f"rtmp: more than {self.max_partial_messages} interleaved partial messages",
                    ErrorCode.RTMP_CHUNK_START,
                )
            cs.parts = []
            cs.received = 0
            self._partials += 1
        self._cur = cs
        self._chunk_left = min(length - cs.received, self.chunk_size)
        return end

    def _complete(self, cs: _ChunkStream, out: list[RawMessage]) -> None:
        parts = cs.parts
        assert parts is not None
        payload = parts[0] if len(parts) == 1 else b"".join(parts)
        cs.parts = None
        self._partials -= 1
        self._give_back(cs.received)
        cs.received = 0
        out.append(RawMessage(cs.csid, cs.timestamp, cs.msg_type, cs.stream_id, payload))
        # Protocol control messages that change how the following chunks are read.
        if cs.msg_type == MessageType.SET_CHUNK_SIZE:
            self._apply_chunk_size(payload)
        elif cs.msg_type == MessageType.ABORT:
            self._apply_abort(payload)

    def _apply_chunk_size(self, payload: bytes) -> None:
        if len(payload) < 4:
            raise ParseError(
                f"rtmp set chunk size: requires 4 bytes, only {len(payload)}", ErrorCode.RTMP_MESSAGE_DECODE
            )
        size = _U32.unpack_from(payload)[0]
        # SRS reads a signed 32-bit size and refuses < 128 (ossrs/srs#541); above 65536 it only warns
        # and accepts (ossrs/srs#160), so do we: the message size limit bounds memory anyway.
        if size & _HALF32 or size < MIN_CHUNK_SIZE:
            raise ProtocolError(
                f"rtmp: chunk size should be {MIN_CHUNK_SIZE}+, value={_signed32(size)}",
                ErrorCode.RTMP_CHUNK_SIZE,
            )
        self.chunk_size = size

    def _apply_abort(self, payload: bytes) -> None:
        if len(payload) < 4:
            raise ParseError(
                f"rtmp abort: requires 4 bytes, only {len(payload)}", ErrorCode.RTMP_MESSAGE_DECODE
            )
        cs = self._streams.get(_U32.unpack_from(payload)[0])
        if cs is not None and cs.parts is not None:
            self._partials -= 1
            self._give_back(cs.received)
            cs.parts = None
            cs.received = 0


# --------------------------------------------------------------------------- encoding

_C0 = tuple(bytes((csid,)) for csid in range(64))
_C3 = tuple(bytes((0xC0 | csid,)) for csid in range(64))
_EXT_MARK = b"\xff\xff\xff"


def _basic_header(fmt: int, csid: int) -> bytes:
    if 2 <= csid < 64:
        return _C0[csid] if fmt == 0 else bytes(((fmt << 6) | csid,))
    if 64 <= csid < 320:
        return bytes((fmt << 6, csid - 64))
    if 64 <= csid < 65600:
        v = csid - 64
        return bytes(((fmt << 6) | 1, v & 0xFF, v >> 8))
    raise ValueError(f"invalid chunk stream id {csid}")


def encode_message(
    csid: int, timestamp: int, msg_type: int, stream_id: int, payload: bytes, chunk_size: int
) -> bytes:
    """Chunk one message: a fmt 0 first chunk, then fmt 3 continuation chunks (as SRS always sends).

    The timestamp is written modulo 2^32; from 0xFFFFFF on it goes in the extended field, which is
    repeated in every fmt 3 chunk (spec 5.3.1.3; SRS and ffmpeg expect it). This is the server's hot
    path: the bytes are built once per message and chunk size and shared by every player.
    """
    n = len(payload)
    if n > 0xFFFFFF:
        raise ValueError(f"rtmp message of {n} bytes exceeds the 24-bit length field")
    ts = timestamp & _MASK32
    if ts >= EXTENDED_TIMESTAMP:
        ext = _U32.pack(ts)
        head = (
            (_C0[csid] if 2 <= csid < 64 else _basic_header(0, csid))
            + _EXT_MARK
            + ((n << 8) | msg_type).to_bytes(4, "big")
            + _SID.pack(stream_id)
            + ext
        )
    else:
        ext = b""
        head = (
            (_C0[csid] if 2 <= csid < 64 else _basic_header(0, csid))
            + ((ts << 32) | (n << 8) | msg_type).to_bytes(7, "big")
            + _SID.pack(stream_id)
        )
    if n <= chunk_size:
        return head + payload
    c3 = (_C3[csid] if 2 <= csid < 64 else _basic_header(3, csid)) + ext
    mv = memoryview(payload)
    parts: list[bytes | memoryview] = [head, mv[:chunk_size]]
    for off in range(chunk_size, n, chunk_size):
        parts.append(c3)
        parts.append(mv[off : off + chunk_size])
    return b"".join(parts)
