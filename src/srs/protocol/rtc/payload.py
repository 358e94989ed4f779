"""What every RTP payload format shares: sequence arithmetic, a reorder (jitter) buffer, a frame assembler.

Sans-IO: nothing here reads a clock or a socket. Packets come in as ``(seq, timestamp, marker, payload)``
plus the caller's arrival time in milliseconds; the RTP header itself is parsed elsewhere (``rtp.py``).

* :class:`ReorderBuffer` puts packets back in sequence order (RFC 3550 A.1 style 16-bit unwrapping),
  drops duplicates and packets older than what was already released, lists the sequence numbers to NACK
  once they have been missing for ``nack_after_ms`` and gives up on them after ``max_wait_ms`` (a
  :class:`Lost` marker then takes their place in the output). SRS keeps a similar ring per track
  (``SrsRtpRingBuffer``, 1000 slots for video, 100 for audio, in ``srs_app_rtc_queue.cpp``) and gives up on
  a NACKed packet after a retry budget; we count time instead of retries so that the caller controls it.
* :class:`FrameAssembler` turns ordered packets into access units for a NAL-based codec (H.264, H.265):
  a frame ends at the marker bit or when the timestamp changes; a loss inside a frame drops it, and the
  assembler then waits for a keyframe and raises :attr:`FrameAssembler.keyframe_request` (the adapter
  sends a rate-limited PLI). RTP packets with an empty payload (Chrome's screen share sends padding-only
  packets) are skipped: they never end nor break the frame being built (SRS issue 3257).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from srs.util.errors import LocalProtocolError, ParseError

SEQ_MOD = 1 << 16


def seq_diff(a: int, b: int) -> int:
    """``a - b`` for 16-bit sequence numbers, in ``[-32768, 32767]`` (wraparound aware)."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def seq_newer(a: int, b: int) -> bool:
    """True when sequence number ``a`` comes after ``b`` (RFC 1982 serial number arithmetic, 16 bits)."""
    return seq_diff(a, b) > 0


@dataclass(frozen=True, slots=True)
class PayloadPacket:
    """One RTP payload produced by a packetizer; the caller adds seq, timestamp and SSRC."""

    payload: bytes
    marker: bool = False

    def __repr__(self) -> str:
        return f"PayloadPacket({len(self.payload)} bytes{', marker' if self.marker else ''})"


@dataclass(frozen=True, slots=True)
class RtpPayload:
    """One received RTP packet, reduced to what the payload formats need."""

    seq: int
    timestamp: int
    marker: bool
    payload: bytes

    def __repr__(self) -> str:
        m = ", marker" if self.marker else ""
        return f"RtpPayload(seq={self.seq}, ts={self.timestamp}, {len(self.payload)} bytes{m})"


@dataclass(frozen=True, slots=True)
class Lost:
    """``count`` packets from ``first_seq`` on never arrived (or arrived too late)."""

    first_seq: int
    count: int


Event = RtpPayload | Lost


@dataclass(slots=True)
class ReorderStats:
    received: int = 0
    duplicates: int = 0
    late: int = 0
    lost: int = 0


class ReorderBuffer:
    """Sequence-ordered release of RTP packets with bounded waiting (sans-IO).

    ``push`` returns whatever became releasable, in order; ``poll(now_ms)`` releases what timed out
    when no packet arrives. Sequence numbers are unwrapped to an extended counter internally, so a
    wrap from 65535 to 0 is seamless. Nothing is released for ``start_hold_ms`` (default ``max_wait_ms``)
    after the first packet, so that packets sent before it but reordered after it still find their place;
    after that, anything older than what was released is "late" and dropped.
    A jump of ``capacity`` packets or more (a restarted sender) gives up on the hole at once.
    """

    def __init__(
        self,
        *,
        max_wait_ms: int = 100,
        nack_after_ms: int = 10,
        capacity: int = 1024,
        start_hold_ms: int | None = None,
    ) -> None:
        if capacity < 1 or max_wait_ms < 0 or nack_after_ms < 0:
            raise LocalProtocolError("ReorderBuffer: capacity >= 1 and non-negative delays required")
        self.max_wait_ms = max_wait_ms
        self.start_hold_ms = max_wait_ms if start_hold_ms is None else start_hold_ms
        self._start_ms: int | None = None  # while set, nothing is released and older packets move the start
        self.nack_after_ms = nack_after_ms
        self.capacity = capacity
        self.stats = ReorderStats()
        self._next: int | None = None  # extended seq released next
        self._highest = -1  # extended highest seq seen
        self._packets: dict[int, RtpPayload] = {}
        self._missing: dict[int, int] = {}  # extended seq -> time the hole was noticed

    def __len__(self) -> int:
        return len(self._packets)

    def push(
        self, seq: int, timestamp: int, payload: bytes, arrival_ms: int, marker: bool = False
    ) -> list[Event]:
        seq &= 0xFFFF
        self.stats.received += 1
        out: list[Event] = []
        if self._next is None:
            self._next = seq
            self._highest = seq - 1
            self._start_ms = arrival_ms
        ext = self._highest + seq_diff(seq, self._highest & 0xFFFF)
        if ext < self._next and self._start_ms is not None and self._highest - ext < self.capacity:
            # Still holding the start: a packet sent before the first one to arrive moves the start back.
            for s in range(ext + 1, self._next):
                self._missing[s] = arrival_ms
            self._next = ext
        if ext < self._next:
            self.stats.late += 1
            return out
        if ext in self._packets:
            self.stats.duplicates += 1
            return out
        if ext - self._next >= self.capacity:
            out += self._give_up_until(ext - self.capacity + 1)
        if ext > self._highest:
            for s in range(max(self._highest + 1, self._next), ext):
                self._missing[s] = arrival_ms
            self._highest = ext
        self._missing.pop(ext, None)
        self._packets[ext] = RtpPayload(seq, timestamp & 0xFFFFFFFF, marker, payload)
        out += self._drain(arrival_ms)
        return _merge(out)

    def poll(self, now_ms: int) -> list[Event]:
        """Release packets held behind a hole that has now waited ``max_wait_ms``."""
        if self._next is None:
            return []
        return _merge(self._drain(now_ms))

    def flush(self) -> list[Event]:
        """Release everything held, holes becoming :class:`Lost` (end of stream)."""
        if self._next is None:
            return []
        self._start_ms = None
        return _merge(self._give_up_until(self._highest + 1))

    def nack_list(self, now_ms: int) -> list[int]:
        """Sequence numbers missing for at least ``nack_after_ms`` (and not yet given up), oldest first."""
        return [s & 0xFFFF for s, t in sorted(self._missing.items()) if now_ms - t >= self.nack_after_ms]

    def _give_up_until(self, ext: int) -> list[Event]:
        out: list[Event] = []
        assert self._next is not None
        self._start_ms = None
        while self._next < ext:
            p = self._packets.pop(self._next, None)
            if p is not None:
                out.append(p)
                self._next += 1
                continue
            # A run of holes: jump to the next held packet (or to ext) in one step.
            stop = min([s for s in self._packets if s > self._next] + [ext])
            for s in range(self._next, min(stop, self._next + self.capacity)):
                self._missing.pop(s, None)
            if stop - self._next > self.capacity:  # huge jump: the dict never held those
                self._missing = {s: t for s, t in self._missing.items() if s >= stop}
            out.append(Lost(self._next & 0xFFFF, stop - self._next))
            self.stats.lost += stop - self._next
            self._next = stop
        return out

    def _drain(self, now_ms: int) -> list[Event]:
        out: list[Event] = []
        assert self._next is not None
        if self._start_ms is not None:
            if now_ms - self._start_ms < self.start_hold_ms:
                return out
            self._start_ms = None
        while self._next <= self._highest:
            p = self._packets.pop(self._next, None)
            if p is not None:
                out.append(p)
                self._next += 1
                continue
            since = self._missing.get(self._next)
            if since is None or now_ms - since < self.max_wait_ms:
                break
            del self._missing[self._next]
            out.append(Lost(self._next & 0xFFFF, 1))
            self.stats.lost += 1
            self._next += 1
        return out


def _merge(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for e in events:
        prev = out[-1] if out else None
        if (
            isinstance(e, Lost)
            and isinstance(prev, Lost)
            and (prev.first_seq + prev.count) & 0xFFFF == e.first_seq
        ):
            out[-1] = Lost(prev.first_seq, prev.count + e.count)
        else:
            out.append(e)
    return out


@dataclass(frozen=True, slots=True)
class Fragment:
    """A piece of a fragmented NAL unit (H.264 FU-A, H.265 FU); ``header`` is the rebuilt NAL header."""

    start: bool
    end: bool
    header: bytes
    data: bytes


Unit = bytes | Fragment


@dataclass(frozen=True, slots=True)
class Frame:
    """One access unit: its NAL units in decoding order, without start codes or length prefixes."""

    timestamp: int
    nalus: list[bytes] = field(default_factory=list)
    keyframe: bool = False
    payloads: tuple[bytes, ...] = ()  # the RTP payloads it came in, in order (relayed as they came)

    def __repr__(self) -> str:
        k = ", key" if self.keyframe else ""
        return f"Frame(ts={self.timestamp}, {len(self.nalus)} NALUs, {sum(map(len, self.nalus))} bytes{k})"


@dataclass(slots=True)
class AssemblerStats:
    frames: int = 0
    dropped: int = 0  # incomplete frames and frames skipped while waiting for a keyframe
    malformed: int = 0  # payloads that did not parse


class FrameAssembler:
    """Packets (any order) -> complete access units, for a codec given by its two functions.

    ``parse(payload)`` splits one RTP payload into whole NAL units and :class:`Fragment` s (raising
    :class:`ParseError` on garbage, which drops the frame); ``is_keyframe(nalus)`` says whether a frame
    can start decoding. With ``wait_keyframe`` (the default, as SRS's RTC->RTMP bridge does) frames are
    dropped from the start and after any loss until a keyframe is complete.
    """

    def __init__(
        self,
        parse: Callable[[bytes], list[Unit]],
        is_keyframe: Callable[[Sequence[bytes]], bool],
        *,
        wait_keyframe: bool = True,
        max_wait_ms: int = 100,
        nack_after_ms: int = 10,
        capacity: int = 1024,
        start_hold_ms: int | None = None,
    ) -> None:
        self._parse = parse
        self._is_keyframe = is_keyframe
        self.wait_keyframe = wait_keyframe
        self.jitter = ReorderBuffer(
            max_wait_ms=max_wait_ms,
            nack_after_ms=nack_after_ms,
            capacity=capacity,
            start_hold_ms=start_hold_ms,
        )
        self.stats = AssemblerStats()
        self.keyframe_request = False  # set on loss or while waiting; the adapter sends PLI and clears it
        self._waiting = wait_keyframe
        self._gap = False
        self._ts: int | None = None
        self._broken = False
        self._nalus: list[bytes] = []
        self._payloads: list[bytes] = []
        self._fu: bytearray | None = None

    def push(
        self, seq: int, timestamp: int, marker: bool, payload: bytes, arrival_ms: int = 0
    ) -> list[Frame]:
        return self.feed(self.jitter.push(seq, timestamp, payload, arrival_ms, marker))

    def poll(self, now_ms: int) -> list[Frame]:
        return self.feed(self.jitter.poll(now_ms))

    def flush(self) -> list[Frame]:
        """End of stream: release held packets and finish the frame being built (if whole)."""
        out = self.feed(self.jitter.flush())
        if self._ts is not None:
            out += self._finish()
        return out

    def nack_list(self, now_ms: int) -> list[int]:
        return self.jitter.nack_list(now_ms)

    def take_keyframe_request(self) -> bool:
        """True once per request (loss, or frames skipped while waiting for a keyframe)."""
        r, self.keyframe_request = self.keyframe_request, False
        return r

    def feed(self, events: Sequence[Event]) -> list[Frame]:
        """Ordered events (from :class:`ReorderBuffer` or already ordered input) -> finished frames."""
        out: list[Frame] = []
        for ev in events:
            if isinstance(ev, Lost):
                self._gap = True
                self.keyframe_request = True
                continue
            if not ev.payload:
                continue  # padding-only packets: neither a boundary nor a loss
            if self._ts is not None and ev.timestamp != self._ts:
                # Marker lost or never sent: the frame ends where the next timestamp begins. A hole
                # just before may belong to either frame, so both are dropped (the gap stays set).
                self._broken = self._broken or self._gap
                out += self._finish()
            if self._ts is None:
                self._ts = ev.timestamp
            if self._gap:
                self._broken = True
                self._gap = False
            self._add(ev.payload)
            self._payloads.append(ev.payload)
            if ev.marker:
                out += self._finish()
        return out

    def _add(self, payload: bytes) -> None:
        try:
            units = self._parse(payload)
        except ParseError:
            self.stats.malformed += 1
            self._broken = True
            return
        for u in units:
            if isinstance(u, bytes):
                if self._fu is not None:
                    self._broken = True  # FU never ended
                    self._fu = None
                self._nalus.append(u)
            elif u.start:
                if self._fu is not None:
                    self._broken = True
                self._fu = bytearray(u.header + u.data)
                if u.end:
                    self._nalus.append(bytes(self._fu))
                    self._fu = None
            elif self._fu is None:
                self._broken = True  # middle or end without its start
            else:
                self._fu += u.data
                if u.end:
                    self._nalus.append(bytes(self._fu))
                    self._fu = None

    def _finish(self) -> list[Frame]:
        assert self._ts is not None
        ts, nalus, broken = self._ts, self._nalus, self._broken or self._fu is not None
        payloads = tuple(self._payloads)
        self._ts, self._nalus, self._payloads, self._broken, self._fu = None, [], [], False, None
        if broken:
            self.stats.dropped += 1
            self.keyframe_request = True
            self._waiting = self.wait_keyframe
            return []
        if not nalus:
            return []
        key = self._is_keyframe(nalus)
        if self._waiting and not key:
            self.stats.dropped += 1
            self.keyframe_request = True
            return []
        self._waiting = False
        self.stats.frames += 1
        return [Frame(ts, nalus, key, payloads)]


def packetize_nalus(
    nalus: Sequence[bytes],
    max_payload: int,
    *,
    aggregatable: Callable[[bytes], bool],
    aggregate: Callable[[list[bytes]], bytes],
    aggregate_header: int,
    fragment: Callable[[bytes, int], list[bytes]],
) -> list[PayloadPacket]:
    """The mode-1 packetizer both NAL codecs share: runs of ``aggregatable`` NALUs (parameter sets) that
    fit go in one aggregation packet, other NALUs alone when they fit ``max_payload``, else fragmented.
    The marker bit goes on the last packet of the access unit."""
    out: list[bytes] = []
    i = 0
    while i < len(nalus):
        n = nalus[i]
        if aggregatable(n):
            run = [n]
            size = aggregate_header + 2 + len(n)
            j = i + 1
            while j < len(nalus) and aggregatable(nalus[j]) and size + 2 + len(nalus[j]) <= max_payload:
                size += 2 + len(nalus[j])
                run.append(nalus[j])
                j += 1
            if len(run) > 1:
                out.append(aggregate(run))
                i = j
                continue
        out += [n] if len(n) <= max_payload else fragment(n, max_payload)
        i += 1
    return [PayloadPacket(p, k == len(out) - 1) for k, p in enumerate(out)]


def split_aggregate(data: bytes, what: str) -> list[bytes]:
    """``[16-bit size][NAL unit]...`` as in STAP-A (RFC 6184 5.7.1) and AP (RFC 7798 4.4.2, no DONL)."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ParseError(f"{what}: truncated NALU size at offset {pos}")
        size = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if size == 0 or pos + size > len(data):
            raise ParseError(f"{what}: NALU of {size} bytes at offset {pos}, {len(data) - pos} left")
        out.append(data[pos : pos + size])
        pos += size
    if len(out) < 1:
        raise ParseError(f"{what}: no NAL unit")
    return out
