"""RTCP packets (RFC 3550, RFC 4585 feedback, RFC 5104 FIR, REMB, transport-cc) and compounds.

:func:`parse_compound` splits a compound (or reduced-size, RFC 5506) datagram into packets;
:func:`serialize_compound` joins them. Every packet class has ``parse`` (from its own bytes, header
included) and ``__bytes__``; they round-trip byte for byte, including RTCP padding (kept raw in
``padding``). Unknown packet types and feedback formats stay opaque (:class:`RtcpUnknown`,
:class:`RtcpRtpfb`, :class:`RtcpPsfb`) instead of failing, as SRS does
(``srs_kernel_rtc_rtcp.cpp``: ``SrsRtcpCompound::decode`` keeps an ``SrsRtcpCommon`` for them). A PLI
with an FCI, a non-REMB application-layer feedback, an SDES or BYE whose zero fill is not the
minimal one are likewise opaque, so that ``bytes(parse_packet(x)) == x`` for every accepted ``x``. Only
:class:`~srs.util.errors.ParseError` escapes a parser.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from srs.protocol.rtc.twcc import TwccFeedback
from srs.util.errors import LocalProtocolError, ParseError

PT_SR, PT_RR, PT_SDES, PT_BYE, PT_APP, PT_RTPFB, PT_PSFB = 200, 201, 202, 203, 204, 205, 206
FMT_NACK, FMT_TWCC = 1, 15
FMT_PLI, FMT_FIR, FMT_AFB = 1, 4, 15
SDES_CNAME = 1

_U32 = struct.Struct("!I")
_SR = struct.Struct("!IQIII")
_BLOCK = struct.Struct("!IB3sIIII")
_FB = struct.Struct("!II")


def _pack(count: int, pt: int, body: bytes, padding: bytes) -> bytes:
    if not 0 <= count <= 31:
        raise LocalProtocolError(f"RTCP count/FMT {count} out of range")
    if padding and padding[-1] != len(padding):
        raise LocalProtocolError("last RTCP padding byte must count the padding")
    size = 4 + len(body) + len(padding)
    if size % 4:
        raise LocalProtocolError(f"RTCP packet of {size} bytes is not 32-bit aligned")
    b0 = 0x80 | (0x20 if padding else 0) | count
    return struct.pack("!BBH", b0, pt, size // 4 - 1) + body + padding


class _NotCanonical(Exception):
    """Valid but not in the form our serialiser writes: the packet is kept as RtcpUnknown."""


def _split(data: bytes) -> tuple[int, int, bytes, bytes]:
    """One packet's ``(count, pt, body, padding)``; ``data`` is exactly the packet."""
    if len(data) < 4 or data[0] >> 6 != 2:
        raise ParseError("not an RTCP packet")
    padding = b""
    end = len(data)
    if data[0] & 0x20:
        n = data[-1]
        if n == 0 or n > end - 4:
            raise ParseError(f"RTCP padding count {n} invalid")
        end -= n
        padding = bytes(data[end:])
    return data[0] & 0x1F, data[1], bytes(data[4:end]), padding


class RtcpPacket(ABC):
    """Base of every RTCP packet: ``parse`` from the packet's bytes, ``bytes()`` back."""

    padding: bytes

    @classmethod
    def parse(cls, data: bytes) -> RtcpPacket:
        """One packet (``data`` is exactly its bytes); ParseError unless it decodes as ``cls``."""
        packet = parse_packet(data)
        if not isinstance(packet, cls):
            raise ParseError(f"RTCP packet is a {type(packet).__name__}, not a {cls.__name__}")
        return packet

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpPacket:
        """The packet from its header's count and type, its body and its padding. The feedback
        messages (NACK, TWCC, PLI, FIR, REMB) are decoded by their family (RTPFB, PSFB) instead."""
        raise ParseError(f"{cls.__name__} is decoded by its feedback family, not on its own")

    @abstractmethod
    def _head(self) -> tuple[int, int, bytes]:
        """(count, packet type, body) for the common header."""

    def __bytes__(self) -> bytes:
        count, pt, body = self._head()
        return _pack(count, pt, body, self.padding)


@dataclass(slots=True)
class ReportBlock:
    """RFC 3550 6.4.1 report block (24 bytes); ``packets_lost`` is a signed 24-bit number."""

    ssrc: int = 0
    fraction_lost: int = 0
    packets_lost: int = 0
    highest_seq: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    SIZE: ClassVar[int] = 24

    @classmethod
    def parse(cls, data: bytes, pos: int = 0) -> ReportBlock:
        if pos + 24 > len(data):
            raise ParseError("RTCP report block truncated")
        ssrc, frac, lost, hs, jit, lsr, dlsr = _BLOCK.unpack_from(data, pos)
        return cls(ssrc, frac, int.from_bytes(lost, "big", signed=True), hs, jit, lsr, dlsr)

    def __bytes__(self) -> bytes:
        lost = max(-0x800000, min(0x7FFFFF, self.packets_lost))
        return _BLOCK.pack(
            self.ssrc,
            self.fraction_lost,
            lost.to_bytes(3, "big", signed=True),
            self.highest_seq,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def _blocks(body: bytes, pos: int, count: int) -> list[ReportBlock]:
    return [ReportBlock.parse(body, pos + 24 * i) for i in range(count)]


def _check_blocks(reports: list[ReportBlock]) -> bytes:
    if len(reports) > 31:
        raise LocalProtocolError("at most 31 report blocks")
    return b"".join(bytes(r) for r in reports)


@dataclass(slots=True)
class RtcpSr(RtcpPacket):
    """Sender report. ``ntp_timestamp`` is the 64-bit NTP time; ``extension`` is profile-specific."""

    ssrc: int = 0
    ntp_timestamp: int = 0
    rtp_timestamp: int = 0
    packet_count: int = 0
    octet_count: int = 0
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""
    padding: bytes = b""

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpSr:
        if len(body) < 24 + 24 * count:
            raise ParseError("RTCP SR truncated")
        ssrc, ntp, rtp, pc, oc = _SR.unpack_from(body)
        reports = _blocks(body, 24, count)
        return cls(ssrc, ntp, rtp, pc, oc, reports, body[24 + 24 * count :], padding)

    def _head(self) -> tuple[int, int, bytes]:
        fixed = _SR.pack(
            self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
        )
        return len(self.reports), PT_SR, fixed + _check_blocks(self.reports) + self.extension


@dataclass(slots=True)
class RtcpRr(RtcpPacket):
    """Receiver report."""

    ssrc: int = 0
    reports: list[ReportBlock] = field(default_factory=list)
    extension: bytes = b""
    padding: bytes = b""

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpRr:
        if len(body) < 4 + 24 * count:
            raise ParseError("RTCP RR truncated")
        reports = _blocks(body, 4, count)
        return cls(_U32.unpack_from(body)[0], reports, body[4 + 24 * count :], padding)

    def _head(self) -> tuple[int, int, bytes]:
        body = _U32.pack(self.ssrc) + _check_blocks(self.reports) + self.extension
        return len(self.reports), PT_RR, body


@dataclass(slots=True)
class SdesChunk:
    """One SDES chunk: an SSRC and its ``(item type, value)`` list (type 1 = CNAME)."""

    ssrc: int = 0
    items: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def cname(self) -> bytes | None:
        for t, v in self.items:
            if t == SDES_CNAME:
                return v
        return None

    def __bytes__(self) -> bytes:
        out = bytearray(_U32.pack(self.ssrc))
        for t, v in self.items:
            if not 1 <= t <= 255 or len(v) > 255:
                raise LocalProtocolError(f"SDES item {t} invalid")
            out += bytes((t, len(v))) + v
        out += bytes(4 - len(out) % 4)  # the null item, then zeros to 32 bits
        return bytes(out)


@dataclass(slots=True)
class RtcpSdes(RtcpPacket):
    """Source description. Each chunk ends with a null item and zero fill to 32 bits; extra zero
    words some senders add after the last chunk (aiortc does) are kept raw in ``tail``."""

    chunks: list[SdesChunk] = field(default_factory=list)
    tail: bytes = b""
    padding: bytes = b""

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpSdes:
        chunks: list[SdesChunk] = []
        pos, n = 0, len(body)
        for _ in range(count):
            if pos + 4 > n:
                raise ParseError("SDES chunk truncated")
            chunk = SdesChunk(_U32.unpack_from(body, pos)[0])
            start = pos
            pos += 4
            while True:
                if pos >= n:
                    raise ParseError("SDES chunk lacks its null item")
                t = body[pos]
                if t == 0:
                    end = pos + 4 - (pos - start) % 4  # null item, zeros to 32 bits
                    if end > n or any(body[pos:end]):
                        raise _NotCanonical
                    pos = end
                    break
                if pos + 2 > n or pos + 2 + body[pos + 1] > n:
                    raise ParseError("SDES item truncated")
                chunk.items.append((t, body[pos + 2 : pos + 2 + body[pos + 1]]))
                pos += 2 + body[pos + 1]
            chunks.append(chunk)
        return cls(chunks, body[pos:], padding)

    def _head(self) -> tuple[int, int, bytes]:
        if len(self.chunks) > 31:
            raise LocalProtocolError("at most 31 SDES chunks")
        return len(self.chunks), PT_SDES, b"".join(bytes(c) for c in self.chunks) + self.tail


@dataclass(slots=True)
class RtcpBye(RtcpPacket):
    """Goodbye: the leaving SSRCs and an optional reason (zero-filled to 32 bits)."""

    sources: list[int] = field(default_factory=list)
    reason: bytes | None = None
    padding: bytes = b""

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpBye:
        if len(body) < 4 * count:
            raise ParseError("BYE truncated")
        sources = list(struct.unpack_from(f"!{count}I", body))
        pos = 4 * count
        reason = None
        if pos < len(body):
            length = body[pos]
            if pos + 1 + length > len(body):
                raise ParseError("BYE reason truncated")
            reason = body[pos + 1 : pos + 1 + length]
            if body[pos + 1 + length :] != bytes(-(1 + length) % 4):
                raise _NotCanonical
        return cls(sources, reason, padding)

    def _head(self) -> tuple[int, int, bytes]:
        if len(self.sources) > 31:
            raise LocalProtocolError("at most 31 BYE sources")
        body = b"".join(_U32.pack(s) for s in self.sources)
        if self.reason is not None:
            if len(self.reason) > 255:
                raise LocalProtocolError("BYE reason longer than 255 bytes")
            r = bytes((len(self.reason),)) + self.reason
            body += r + bytes(-len(r) % 4)
        return len(self.sources), PT_BYE, body


@dataclass(slots=True)
class RtcpApp(RtcpPacket):
    """Application-defined packet, kept opaque: subtype, SSRC, 4-byte name, data."""

    subtype: int = 0
    ssrc: int = 0
    name: bytes = b"    "
    data: bytes = b""
    padding: bytes = b""

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpApp:
        if len(body) < 8:
            raise ParseError("APP truncated")
        return cls(count, _U32.unpack_from(body)[0], body[4:8], body[8:], padding)

    def _head(self) -> tuple[int, int, bytes]:
        if len(self.name) != 4:
            raise LocalProtocolError("APP name must be 4 bytes")
        return self.subtype, PT_APP, _U32.pack(self.ssrc) + self.name + self.data


@dataclass(slots=True)
class RtcpUnknown(RtcpPacket):
    """Any other packet type (XR, ...), kept opaque."""

    packet_type: int = 0
    count: int = 0
    body: bytes = b""
    padding: bytes = b""

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpUnknown:
        return cls(pt, count, body, padding)

    def _head(self) -> tuple[int, int, bytes]:
        return self.count, self.packet_type, self.body


# --- feedback (RFC 4585): common header is sender SSRC + media SSRC, then the FCI ----------------


def _fb(body: bytes) -> tuple[int, int, bytes]:
    if len(body) < 8:
        raise ParseError("RTCP feedback truncated")
    sender, media = _FB.unpack_from(body)
    return sender, media, body[8:]


@dataclass(slots=True)
class _OpaqueFeedback(RtcpPacket):
    """A feedback message kept as its FMT and FCI (the family's packet type is ``PT``)."""

    PT: ClassVar[int] = 0
    fmt: int = 0
    sender_ssrc: int = 0
    media_ssrc: int = 0
    fci: bytes = b""
    padding: bytes = b""

    def _head(self) -> tuple[int, int, bytes]:
        return self.fmt, self.PT, _FB.pack(self.sender_ssrc, self.media_ssrc) + self.fci


@dataclass(slots=True)
class RtcpRtpfb(_OpaqueFeedback):
    """Transport-layer feedback with an FMT we keep opaque."""

    PT: ClassVar[int] = PT_RTPFB

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpPacket:
        sender, media, fci = _fb(body)
        if count == FMT_NACK:
            if len(fci) % 4:
                raise ParseError("NACK FCI is not a multiple of 4 bytes")
            pairs = [struct.unpack_from("!HH", fci, i) for i in range(0, len(fci), 4)]
            return RtcpNack(sender, media, [(p, b) for p, b in pairs], padding)
        if count == FMT_TWCC:
            return RtcpTwcc(sender, media, TwccFeedback.parse(fci), padding)
        return cls(count, sender, media, fci, padding)


@dataclass(slots=True)
class RtcpNack(RtcpPacket):
    """Generic NACK: ``entries`` are (PID, BLP) pairs; see :attr:`lost` and :meth:`from_lost`."""

    sender_ssrc: int = 0
    media_ssrc: int = 0
    entries: list[tuple[int, int]] = field(default_factory=list)
    padding: bytes = b""

    @property
    def lost(self) -> list[int]:
        """The lost sequence numbers, in FCI order."""
        out: list[int] = []
        for pid, blp in self.entries:
            out.append(pid)
            out += [(pid + i + 1) & 0xFFFF for i in range(16) if blp >> i & 1]
        return out

    @classmethod
    def from_lost(cls, sender_ssrc: int, media_ssrc: int, lost: Iterable[int]) -> RtcpNack:
        """Pack sequence numbers (16-bit or unwrapped) into as few PID/BLP pairs as their order
        allows: each PID covers itself and the 16 numbers after it."""
        entries: list[tuple[int, int]] = []
        pid: int | None = None
        blp = 0
        for s in sorted(set(lost)):
            if pid is not None and 1 <= s - pid <= 16:
                blp |= 1 << (s - pid - 1)
                continue
            if pid is not None:
                entries.append((pid & 0xFFFF, blp))
            pid, blp = s, 0
        if pid is not None:
            entries.append((pid & 0xFFFF, blp))
        return cls(sender_ssrc, media_ssrc, entries)

    def _head(self) -> tuple[int, int, bytes]:
        fci = b"".join(struct.pack("!HH", p & 0xFFFF, b & 0xFFFF) for p, b in self.entries)
        return FMT_NACK, PT_RTPFB, _FB.pack(self.sender_ssrc, self.media_ssrc) + fci


@dataclass(slots=True)
class RtcpTwcc(RtcpPacket):
    """Transport-wide congestion control feedback (RTPFB FMT 15); see :mod:`.twcc`."""

    sender_ssrc: int = 0
    media_ssrc: int = 0
    feedback: TwccFeedback = field(default_factory=TwccFeedback)
    padding: bytes = b""

    @classmethod
    def build(cls, sender_ssrc: int, media_ssrc: int, feedback: TwccFeedback) -> RtcpTwcc:
        """Wrap a feedback, padding it to 32 bits with the P bit as libwebrtc does."""
        pad = -(8 + len(bytes(feedback))) % 4
        padding = bytes(pad - 1) + bytes((pad,)) if pad else b""
        return cls(sender_ssrc, media_ssrc, feedback, padding)

    def _head(self) -> tuple[int, int, bytes]:
        body = _FB.pack(self.sender_ssrc, self.media_ssrc) + bytes(self.feedback)
        return FMT_TWCC, PT_RTPFB, body


@dataclass(slots=True)
class RtcpPsfb(_OpaqueFeedback):
    """Payload-specific feedback with an FMT (or FCI) we keep opaque."""

    PT: ClassVar[int] = PT_PSFB

    @classmethod
    def _from_body(cls, count: int, pt: int, body: bytes, padding: bytes) -> RtcpPacket:
        sender, media, fci = _fb(body)
        if count == FMT_PLI and not fci:
            return RtcpPli(sender, media, padding)
        if count == FMT_FIR and len(fci) % 8 == 0:
            entries = []
            for i in range(0, len(fci), 8):
                ssrc, seq = struct.unpack_from("!IB", fci, i)
                if fci[i + 5 : i + 8] != b"\0\0\0":
                    break  # reserved bits set: keep it opaque so it round-trips
                entries.append((ssrc, seq))
            else:
                return RtcpFir(sender, media, entries, padding)
        if count == FMT_AFB and fci[:4] == b"REMB" and len(fci) >= 8:
            num = fci[4]
            exp, mantissa = fci[5] >> 2, int.from_bytes(fci[5:8], "big") & 0x3FFFF
            if len(fci) == 8 + 4 * num:
                ssrcs = list(struct.unpack_from(f"!{num}I", fci, 8))
                return RtcpRemb(sender, media, exp, mantissa, ssrcs, padding)
        return cls(count, sender, media, fci, padding)


@dataclass(slots=True)
class RtcpPli(RtcpPacket):
    """Picture loss indication (no FCI)."""

    sender_ssrc: int = 0
    media_ssrc: int = 0
    padding: bytes = b""

    def _head(self) -> tuple[int, int, bytes]:
        return FMT_PLI, PT_PSFB, _FB.pack(self.sender_ssrc, self.media_ssrc)


@dataclass(slots=True)
class RtcpFir(RtcpPacket):
    """Full intra request (RFC 5104 4.3.1): ``entries`` are (SSRC, command sequence number);
    the media SSRC field is 0 by the RFC."""

    sender_ssrc: int = 0
    media_ssrc: int = 0
    entries: list[tuple[int, int]] = field(default_factory=list)
    padding: bytes = b""

    def _head(self) -> tuple[int, int, bytes]:
        fci = b"".join(struct.pack("!IB3x", s, q & 0xFF) for s, q in self.entries)
        return FMT_FIR, PT_PSFB, _FB.pack(self.sender_ssrc, self.media_ssrc) + fci


@dataclass(slots=True)
class RtcpRemb(RtcpPacket):
    """Receiver estimated max bitrate (draft-alvestrand-rmcat-remb): bitrate = mantissa << exp."""

    sender_ssrc: int = 0
    media_ssrc: int = 0
    exponent: int = 0
    mantissa: int = 0
    ssrcs: list[int] = field(default_factory=list)
    padding: bytes = b""

    @property
    def bitrate(self) -> int:
        return self.mantissa << self.exponent

    @classmethod
    def from_bitrate(cls, sender_ssrc: int, bitrate: int, ssrcs: list[int]) -> RtcpRemb:
        if bitrate < 0:
            raise LocalProtocolError("REMB bitrate must not be negative")
        exp = 0
        while bitrate >> exp > 0x3FFFF:
            exp += 1
        return cls(sender_ssrc, 0, exp, bitrate >> exp, list(ssrcs))

    def _head(self) -> tuple[int, int, bytes]:
        if len(self.ssrcs) > 255 or not 0 <= self.exponent <= 63:
            raise LocalProtocolError("REMB fields out of range")
        fci = b"REMB" + bytes((len(self.ssrcs),))
        fci += ((self.exponent << 18) | (self.mantissa & 0x3FFFF)).to_bytes(3, "big")
        fci += b"".join(_U32.pack(s) for s in self.ssrcs)
        return FMT_AFB, PT_PSFB, _FB.pack(self.sender_ssrc, self.media_ssrc) + fci


_BY_TYPE: dict[int, type[RtcpPacket]] = {
    PT_SR: RtcpSr,
    PT_RR: RtcpRr,
    PT_SDES: RtcpSdes,
    PT_BYE: RtcpBye,
    PT_APP: RtcpApp,
    PT_RTPFB: RtcpRtpfb,
    PT_PSFB: RtcpPsfb,
}


def parse_packet(data: bytes) -> RtcpPacket:
    """One RTCP packet (``data`` is exactly its bytes) as the class its type/FMT says."""
    count, pt, body, padding = _split(data)
    try:
        return _BY_TYPE.get(pt, RtcpUnknown)._from_body(count, pt, body, padding)
    except _NotCanonical:
        return RtcpUnknown(pt, count, body, padding)


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Every packet of a compound datagram. A length overrunning the datagram is a ParseError."""
    out: list[RtcpPacket] = []
    pos, n = 0, len(data)
    if n == 0:
        raise ParseError("empty RTCP datagram")
    while pos < n:
        if pos + 4 > n:
            raise ParseError("RTCP header truncated")
        size = (int.from_bytes(data[pos + 2 : pos + 4], "big") + 1) * 4
        if pos + size > n:
            raise ParseError(f"RTCP packet of {size} bytes overruns the datagram")
        out.append(parse_packet(data[pos : pos + size]))
        pos += size
    return out


def serialize_compound(packets: Iterable[RtcpPacket]) -> bytes:
    return b"".join(bytes(p) for p in packets)
