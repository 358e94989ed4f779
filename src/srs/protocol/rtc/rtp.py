"""RTP packets (RFC 3550) with RFC 8285 header extensions, sequence arithmetic and RTX (RFC 4588).

Sans-IO wire structs: :meth:`RtpPacket.parse` / ``bytes(packet)`` round-trip byte for byte (the
extension block and padding are kept raw, so a packet we relay leaves as it arrived). Parsers raise
only :class:`~srs.util.errors.ParseError`.

SRS (``srs_kernel_rtc_rtp.cpp``: ``SrsRtpHeader``, ``SrsRtpExtensions``) decodes only the extensions it
negotiated (transport-cc, abs-send-time...) and drops the others when it re-encodes; we keep the raw
block and decode on demand with :func:`parse_extensions`. Per-packet hot paths (the demux, the NACK
receiver) use :func:`peek_header`, which reads ssrc/seq/timestamp/pt without building an object.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from srs.util.errors import LocalProtocolError, ParseError

RTP_VERSION = 2
RTP_HEADER_SIZE = 12
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE = 0x1000  # 0x100X: the low 4 bits ("appbits") are free for the application

# Extension URIs as negotiated in SDP (a=extmap); the ids are per session.
URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_TRANSPORT_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

_HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")


# --- sequence-number arithmetic (16-bit, RFC 3550 A.1) ---------------------------------------------


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` between two 16-bit sequence numbers, in [-32768, 32767]."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def seq_lt(a: int, b: int) -> bool:
    """``a`` is before ``b`` modulo 2**16 (``seq_lt(65535, 0)`` is True)."""
    return seq_diff(a, b) < 0


def seq_gt(a: int, b: int) -> bool:
    """``a`` is after ``b`` modulo 2**16."""
    return seq_diff(a, b) > 0


class SeqUnwrapper:
    """Turns 16-bit sequence numbers into monotonic 64-bit ones (a packet before the last is allowed).

    The first value maps to itself; each next value is placed at the nearest point to the previous
    one, so reordering within half the space (32768) and wraparound are handled.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: int | None = None

    def unwrap(self, seq: int) -> int:
        last = self._last
        value = seq & 0xFFFF if last is None else last + seq_diff(seq, last & 0xFFFF)
        if last is None or value > last:
            self._last = value
        return value


# --- the per-packet fast path ------------------------------------------------------------------


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 demux on a muxed port: RTCP packet types 192..223 sit where RTP's M+PT is."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def peek_header(data: bytes) -> tuple[int, int, int, int]:
    """``(payload_type, sequence_number, timestamp, ssrc)`` of an RTP packet, without parsing it."""
    if len(data) < RTP_HEADER_SIZE or data[0] >> 6 != RTP_VERSION:
        raise ParseError(f"not an RTP packet ({len(data)} bytes)")
    _, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    return b1 & 0x7F, seq, ts, ssrc


# --- header extensions (RFC 8285) --------------------------------------------------------------


def parse_extensions(profile: int, data: bytes) -> list[tuple[int, bytes]]:
    """Decode a one-byte (0xBEDE) or two-byte (0x100X) extension block into ``[(id, value), ...]``.

    Padding bytes (id 0) are skipped; in the one-byte form id 15 stops processing (RFC 8285 4.2).
    Other profiles are not RFC 8285 and decode as no elements.
    """
    out: list[tuple[int, bytes]] = []
    pos, end = 0, len(data)
    if profile == ONE_BYTE_PROFILE:
        while pos < end:
            b = data[pos]
            ext_id, length = b >> 4, (b & 0x0F) + 1
            if ext_id == 0:
                pos += 1
                continue
            if ext_id == 15:
                break
            if pos + 1 + length > end:
                raise ParseError(f"one-byte extension {ext_id} overruns the block")
            out.append((ext_id, bytes(data[pos + 1 : pos + 1 + length])))
            pos += 1 + length
    elif profile & 0xFFF0 == TWO_BYTE_PROFILE:
        while pos < end:
            ext_id = data[pos]
            if ext_id == 0:
                pos += 1
                continue
            if pos + 2 > end:
                raise ParseError("two-byte extension header truncated")
            length = data[pos + 1]
            if pos + 2 + length > end:
                raise ParseError(f"two-byte extension {ext_id} overruns the block")
            out.append((ext_id, bytes(data[pos + 2 : pos + 2 + length])))
            pos += 2 + length
    return out


def build_extensions(elements: list[tuple[int, bytes]], two_byte: bool | None = None) -> tuple[int, bytes]:
    """Encode ``[(id, value)]`` into ``(profile, block)``, zero-padded to 32 bits.

    The one-byte form is used when every id is 1..14 and every value 1..16 bytes long (unless
    ``two_byte`` forces a choice); otherwise the two-byte form (ids 1..255, values 0..255 bytes).
    """
    fits_one = all(1 <= i <= 14 and 1 <= len(v) <= 16 for i, v in elements)
    if two_byte is None:
        two_byte = not fits_one
    out = bytearray()
    if not two_byte:
        if not fits_one:
            raise LocalProtocolError("extension does not fit the one-byte form")
        for ext_id, value in elements:
            out.append((ext_id << 4) | (len(value) - 1))
            out += value
        profile = ONE_BYTE_PROFILE
    else:
        for ext_id, value in elements:
            if not 1 <= ext_id <= 255 or len(value) > 255:
                raise LocalProtocolError(f"extension {ext_id} does not fit the two-byte form")
            out += bytes((ext_id, len(value))) + value
        profile = TWO_BYTE_PROFILE
    out += bytes(-len(out) % 4)
    return profile, bytes(out)


def abs_send_time_from_us(time_us: int) -> bytes:
    """abs-send-time: 24-bit 6.18 fixed-point seconds (wraps every 64 s), from microseconds."""
    return (((time_us << 18) // 1_000_000) & 0xFFFFFF).to_bytes(3, "big")


def abs_send_time_to_us(value: bytes) -> int:
    """The abs-send-time value back to microseconds within its 64-second window."""
    if len(value) != 3:
        raise ParseError(f"abs-send-time must be 3 bytes, got {len(value)}")
    return (int.from_bytes(value, "big") * 1_000_000) >> 18


def transport_cc_seq(value: bytes) -> int:
    """The transport-wide sequence number carried by the transport-cc extension (16 bits)."""
    if len(value) != 2:
        raise ParseError(f"transport-cc extension must be 2 bytes, got {len(value)}")
    return int.from_bytes(value, "big")


def transport_cc_value(seq: int) -> bytes:
    return (seq & 0xFFFF).to_bytes(2, "big")


def mid_value(value: bytes) -> str:
    """sdes:mid is an RFC 7941 SDES item: a UTF-8 token without a terminator."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError("sdes:mid is not UTF-8") from e


# --- the packet ---------------------------------------------------------------------------------


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet. ``padding`` is raw (its last byte counts it); ``extension_data`` is the raw
    block after the 4-byte extension header (``extension_profile`` None = no X bit)."""

    payload_type: int = 0
    sequence_number: int = 0
    timestamp: int = 0
    ssrc: int = 0
    marker: bool = False
    csrc: list[int] = field(default_factory=list)
    extension_profile: int | None = None
    extension_data: bytes = b""
    payload: bytes = b""
    padding: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        n = len(data)
        if n < RTP_HEADER_SIZE:
            raise ParseError(f"RTP packet too short ({n} bytes)")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != RTP_VERSION:
            raise ParseError(f"RTP version {b0 >> 6} (want 2)")
        pos = RTP_HEADER_SIZE
        cc = b0 & 0x0F
        if pos + 4 * cc > n:
            raise ParseError("RTP CSRC list truncated")
        csrc = list(struct.unpack_from(f"!{cc}I", data, pos))
        pos += 4 * cc
        profile: int | None = None
        ext = b""
        if b0 & 0x10:
            if pos + 4 > n:
                raise ParseError("RTP extension header truncated")
            profile, words = _EXT_HEADER.unpack_from(data, pos)
            pos += 4
            if pos + 4 * words > n:
                raise ParseError("RTP extension block truncated")
            ext = bytes(data[pos : pos + 4 * words])
            pos += 4 * words
        end = n
        padding = b""
        if b0 & 0x20:
            count = data[-1]
            if count == 0 or pos + count > n:
                raise ParseError(f"RTP padding count {count} invalid")
            end = n - count
            padding = bytes(data[end:])
        return cls(
            payload_type=b1 & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            marker=bool(b1 & 0x80),
            csrc=csrc,
            extension_profile=profile,
            extension_data=ext,
            payload=bytes(data[pos:end]),
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        if len(self.csrc) > 15:
            raise LocalProtocolError("at most 15 CSRCs")
        if len(self.extension_data) % 4:
            raise LocalProtocolError("extension block must be a multiple of 4 bytes")
        if self.padding and self.padding[-1] != len(self.padding):
            raise LocalProtocolError("last padding byte must count the padding")
        b0 = (RTP_VERSION << 6) | len(self.csrc)
        if self.padding:
            b0 |= 0x20
        if self.extension_profile is not None:
            b0 |= 0x10
        out = bytearray(
            _HEADER.pack(
                b0,
                (0x80 if self.marker else 0) | (self.payload_type & 0x7F),
                self.sequence_number & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
        )
        for c in self.csrc:
            out += struct.pack("!I", c)
        if self.extension_profile is not None:
            out += _EXT_HEADER.pack(self.extension_profile, len(self.extension_data) // 4)
            out += self.extension_data
        out += self.payload
        out += self.padding
        return bytes(out)

    @property
    def extensions(self) -> list[tuple[int, bytes]]:
        if self.extension_profile is None:
            return []
        return parse_extensions(self.extension_profile, self.extension_data)

    def get_extension(self, ext_id: int) -> bytes | None:
        for i, value in self.extensions:
            if i == ext_id:
                return value
        return None

    def set_extensions(self, elements: list[tuple[int, bytes]], two_byte: bool | None = None) -> None:
        """Replace the extension block (an empty list removes it)."""
        if not elements:
            self.extension_profile, self.extension_data = None, b""
            return
        self.extension_profile, self.extension_data = build_extensions(elements, two_byte)

    def set_padding(self, size: int) -> None:
        """Pad with ``size`` bytes (zeros then the count), 0 removes padding."""
        if not 0 <= size <= 255:
            raise LocalProtocolError("padding size must be 0..255")
        self.padding = bytes(size - 1) + bytes((size,)) if size else b""

    def __repr__(self) -> str:
        ext = f" ext={self.extensions!r}" if self.extension_profile is not None else ""
        return (
            f"RtpPacket(pt={self.payload_type} seq={self.sequence_number} ts={self.timestamp} "
            f"ssrc={self.ssrc:#010x} m={int(self.marker)} csrc={self.csrc}{ext} "
            f"payload={len(self.payload)}B pad={len(self.padding)})"
        )


# --- RTX (RFC 4588) ---------------------------------------------------------------------------


def rtx_unwrap(rtx: RtpPacket, payload_type: int, ssrc: int) -> RtpPacket:
    """Rebuild the original packet from an RTX one: the OSN is the payload's first 2 bytes."""
    if len(rtx.payload) < 2:
        raise ParseError("RTX payload lacks the original sequence number")
    return RtpPacket(
        payload_type=payload_type,
        sequence_number=int.from_bytes(rtx.payload[:2], "big"),
        timestamp=rtx.timestamp,
        ssrc=ssrc,
        marker=rtx.marker,
        csrc=list(rtx.csrc),
        extension_profile=rtx.extension_profile,
        extension_data=rtx.extension_data,
        payload=rtx.payload[2:],
    )


def rtx_original_seq(rtx_payload: bytes) -> int:
    if len(rtx_payload) < 2:
        raise ParseError("RTX payload lacks the original sequence number")
    return int.from_bytes(rtx_payload[:2], "big")


def rtx_wrap(packet: RtpPacket, payload_type: int, ssrc: int, sequence_number: int) -> RtpPacket:
    """The RTX retransmission of ``packet`` (padding dropped, headers and extensions kept)."""
    return RtpPacket(
        payload_type=payload_type,
        sequence_number=sequence_number & 0xFFFF,
        timestamp=packet.timestamp,
        ssrc=ssrc,
        marker=packet.marker,
        csrc=list(packet.csrc),
        extension_profile=packet.extension_profile,
        extension_data=packet.extension_data,
        payload=packet.sequence_number.to_bytes(2, "big") + packet.payload,
    )
