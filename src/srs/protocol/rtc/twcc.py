"""Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).

The FCI of an RTPFB (PT 205) packet with FMT 15::

    base sequence number (16) | packet status count (16)
    reference time (24, multiples of 64 ms) | feedback packet count (8)
    packet chunks (16 bits each) ... | receive deltas (8 or 16 bits each) ... | zero padding

Chunks are run-length (``0 SS LLLLLLLLLLLLL``) or status vectors (``1 0`` + 14 one-bit symbols,
``1 1`` + 7 two-bit symbols). Symbols: 0 not received, 1 received with a small delta (1 byte,
0..63.75 ms), 2 received with a large or negative delta (2 bytes signed), 3 reserved. Deltas are in
250 us units; the first is relative to the reference time.

SRS (``SrsRtcpTWCC`` in ``srs_kernel_rtc_rtcp.cpp``) builds this feedback for publishers; we keep the
chunks raw so a parsed packet re-serialises byte for byte, and offer :meth:`TwccFeedback.packets`
(decoded arrivals) and :func:`build_twcc` (the receiver side, what a browser expects).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from srs.util.errors import LocalProtocolError, ParseError

NOT_RECEIVED, SMALL_DELTA, LARGE_DELTA = 0, 1, 2
DELTA_US = 250
REFERENCE_US = 64_000
_FIXED = struct.Struct("!HHI")


def chunk_symbols(chunk: int) -> list[int]:
    """The symbols one 16-bit chunk describes (a run-length chunk expands to its run)."""
    if chunk & 0x8000 == 0:
        return [(chunk >> 13) & 0x3] * (chunk & 0x1FFF)
    if chunk & 0x4000 == 0:
        return [(chunk >> (13 - i)) & 0x1 for i in range(14)]
    return [(chunk >> (12 - 2 * i)) & 0x3 for i in range(7)]


def _delta_size(symbol: int) -> int:
    if symbol == 3:
        raise ParseError("TWCC reserved status symbol 3")
    return symbol  # 0, 1 or 2 bytes


@dataclass(slots=True)
class TwccFeedback:
    """The transport-cc FCI. ``deltas`` are signed, in 250 us units, one per received packet."""

    base_seq: int = 0
    status_count: int = 0
    reference_time: int = 0  # 24 bits, in 64 ms units
    fb_pkt_count: int = 0
    chunks: list[int] = field(default_factory=list)
    deltas: list[int] = field(default_factory=list)
    tail: bytes = b""  # bytes after the deltas (zero padding written without the P bit)

    def symbols(self) -> list[int]:
        """One status symbol per reported packet (``status_count`` of them)."""
        out: list[int] = []
        for c in self.chunks:
            out += chunk_symbols(c)
        return out[: self.status_count]

    @classmethod
    def parse(cls, fci: bytes) -> TwccFeedback:
        if len(fci) < 8:
            raise ParseError(f"TWCC feedback too short ({len(fci)} bytes)")
        base, count, ref = _FIXED.unpack_from(fci)
        pos, n = 8, len(fci)
        chunks: list[int] = []
        symbols: list[int] = []
        while len(symbols) < count:
            if pos + 2 > n:
                raise ParseError("TWCC packet chunks truncated")
            chunk = int.from_bytes(fci[pos : pos + 2], "big")
            pos += 2
            chunks.append(chunk)
            symbols += chunk_symbols(chunk)
        deltas: list[int] = []
        for s in symbols[:count]:
            size = _delta_size(s)
            if size == 0:
                continue
            if pos + size > n:
                raise ParseError("TWCC receive deltas truncated")
            deltas.append(int.from_bytes(fci[pos : pos + size], "big", signed=size == 2))
            pos += size
        return cls(base, count, ref >> 8, ref & 0xFF, chunks, deltas, bytes(fci[pos:]))

    def __bytes__(self) -> bytes:
        out = bytearray(
            _FIXED.pack(
                self.base_seq & 0xFFFF,
                self.status_count,
                ((self.reference_time & 0xFFFFFF) << 8) | (self.fb_pkt_count & 0xFF),
            )
        )
        for c in self.chunks:
            out += c.to_bytes(2, "big")
        sizes = [s for s in self.symbols() if s]
        if len(sizes) != len(self.deltas):
            raise LocalProtocolError("TWCC deltas do not match the received symbols")
        for s, d in zip(sizes, self.deltas, strict=True):
            if s == 3:
                raise LocalProtocolError("TWCC reserved symbol 3")
            out += d.to_bytes(s, "big", signed=s == 2)
        out += self.tail
        return bytes(out)

    def packets(self) -> list[tuple[int, int | None]]:
        """``[(seq, arrival_us or None), ...]``; times are reference_time * 64 ms + deltas."""
        t = self.reference_time * REFERENCE_US
        it = iter(self.deltas)
        out: list[tuple[int, int | None]] = []
        for i, s in enumerate(self.symbols()):
            seq = (self.base_seq + i) & 0xFFFF
            if s == NOT_RECEIVED:
                out.append((seq, None))
            else:
                t += next(it) * DELTA_US
                out.append((seq, t))
        return out

    def __repr__(self) -> str:
        return (
            f"TwccFeedback(base={self.base_seq} count={self.status_count} "
            f"ref={self.reference_time} fb={self.fb_pkt_count} chunks={len(self.chunks)} "
            f"deltas={len(self.deltas)})"
        )


def encode_chunks(symbols: list[int]) -> list[int]:
    """Greedy chunk encoding: runs of 14+ (or a uniform tail) as run-length chunks, else a 1-bit
    vector when the next 14 symbols are 0/1, else a 2-bit vector of 7 (the last is zero-filled)."""
    out: list[int] = []
    i, n = 0, len(symbols)
    while i < n:
        s = symbols[i]
        run = 1
        while i + run < n and symbols[i + run] == s and run < 0x1FFF:
            run += 1
        if run >= 14 or i + run == n:
            out.append((s << 13) | run)
            i += run
            continue
        window = symbols[i : i + 14]
        if all(x <= 1 for x in window):
            c = 0x8000
            for k, x in enumerate(window):
                c |= x << (13 - k)
            out.append(c)
            i += 14
        else:
            c = 0xC000
            for k, x in enumerate(symbols[i : i + 7]):
                c |= x << (12 - 2 * k)
            out.append(c)
            i += 7
    return out


def build_twcc(arrivals: dict[int, int | None], fb_pkt_count: int = 0) -> list[TwccFeedback]:
    """Feedback for ``{transport_seq: arrival_us or None}`` as a receiver sends it to a browser.

    Keys may be 16-bit or unwrapped (:class:`~srs.protocol.rtc.rtp.SeqUnwrapper`); the range from
    the lowest key to the highest received one is reported, missing keys as not received. A new feedback starts
    (with the next ``fb_pkt_count``) where a delta cannot be coded in 16 bits or 65535 packets are
    reached. Deltas are rounded to 250 us and accumulate without drift. Returns [] if nothing was
    received.
    """
    received = [k for k, v in arrivals.items() if v is not None]
    if not received:
        return []
    first, last = min(arrivals), max(received)
    out: list[TwccFeedback] = []
    seq = first
    count = fb_pkt_count
    while seq <= last:
        base = seq
        ref: int | None = None
        prev_ticks = 0
        symbols: list[int] = []
        deltas: list[int] = []
        while seq <= last and len(symbols) < 0xFFFF:
            t = arrivals.get(seq)
            if t is None:
                symbols.append(NOT_RECEIVED)
                seq += 1
                continue
            if ref is None:
                ref = t // REFERENCE_US
                prev_ticks = ref * (REFERENCE_US // DELTA_US)
            ticks = (t + DELTA_US // 2) // DELTA_US
            d = ticks - prev_ticks
            if not -0x8000 <= d <= 0x7FFF:
                break
            symbols.append(SMALL_DELTA if 0 <= d <= 0xFF else LARGE_DELTA)
            deltas.append(d)
            prev_ticks = ticks
            seq += 1
        if ref is None:
            continue  # 65535 losses in a row: nothing to time them against
        out.append(
            TwccFeedback(
                base_seq=base & 0xFFFF,
                status_count=len(symbols),
                reference_time=ref & 0xFFFFFF,
                fb_pkt_count=count & 0xFF,
                chunks=encode_chunks(symbols),
                deltas=deltas,
            )
        )
        count += 1
    return out
