"""MPEG-2 transport stream (ISO/IEC 13818-1): a muxer and a demuxer, both sans-IO.

:class:`TsMuxer` turns elementary-stream frames (already in their TS form: H.264/H.265 Annex B,
AAC with ADTS headers, MP3 frames) into 188-byte packets: PAT and PMT on request, one PES per
frame with PTS/DTS (90 kHz), a PCR in the first packet of each frame of the PCR stream, the random
access indicator on keyframes, adaptation-field stuffing in the last packet, a continuity counter
per PID. SRS's layout is the default: program 1, PMT on PID 0x1001, video 0x100, audio 0x101.

:class:`TsDemuxer` reads packets back: it follows the PAT to the PMT, learns the streams (with their
ES_info descriptors: :attr:`TsStream.is_opus` tells Opus, whose access units
:mod:`srs.format.ts_opus` splits), and reassembles PES packets into :class:`PesFrame` objects. It never raises on input: bytes that are
not 188-byte packets starting with 0x47 are skipped until the stream is in sync again, and packets
that do not parse are counted in :attr:`TsDemuxer.errors` (SRT and UDP ingest carry garbage and loss).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

PACKET_SIZE = 188
SYNC = 0x47
PAT_PID = 0x0000
NULL_PID = 0x1FFF
PMT_PID = 0x1001  # SRS
VIDEO_PID = 0x100  # SRS
AUDIO_PID = 0x101  # SRS
PROGRAM_NUMBER = 1
TRANSPORT_STREAM_ID = 1
MAX_PTS = 1 << 33


class StreamType(IntEnum):
    """PMT stream types this server writes and reads."""

    MP3 = 0x03  # ISO/IEC 11172-3 audio
    MPEG2_AUDIO = 0x04  # ISO/IEC 13818-3 (MP3 at low rates)
    PRIVATE_PES = 0x06  # Opus (with a registration descriptor)
    AAC = 0x0F  # ISO/IEC 13818-7 ADTS
    H264 = 0x1B
    H265 = 0x24


STREAM_ID_VIDEO = 0xE0
STREAM_ID_AUDIO = 0xC0
STREAM_ID_PRIVATE_1 = 0xBD
DESC_REGISTRATION = 0x05  # ISO/IEC 13818-1 registration_descriptor: a 4-byte format_identifier
DESC_DVB_EXTENSION = 0x7F  # ETSI EN 300 468 extension_descriptor
DESC_EXT_OPUS = 0x80  # its descriptor_tag_extension for the Opus audio descriptor
OPUS_REGISTRATION = b"Opus"

_VIDEO_TYPES = frozenset({StreamType.H264, StreamType.H265})


def _crc32_table() -> list[int]:
    table = []
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04C11DB7) if c & 0x80000000 else (c << 1)
        table.append(c & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc32_table()


def crc32_mpeg(data: bytes) -> int:
    """CRC-32/MPEG-2 of PSI sections (polynomial 0x04C11DB7, init 0xFFFFFFFF, no reflection)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ b) & 0xFF]
    return crc


def iter_descriptors(es_info: bytes) -> Iterator[tuple[int, bytes]]:
    """The (tag, body) descriptors of a PMT ES_info loop; a truncated last one ends the loop."""
    i, n = 0, len(es_info)
    while i + 2 <= n:
        tag, size = es_info[i], es_info[i + 1]
        if i + 2 + size > n:
            return
        yield tag, es_info[i + 2 : i + 2 + size]
        i += 2 + size


@dataclass(frozen=True, slots=True)
class TsStream:
    """One elementary stream of the program; ``descriptors`` is its PMT ES_info loop (raw)."""

    pid: int
    stream_type: int
    descriptors: bytes = b""

    @property
    def registration(self) -> bytes | None:
        """The format_identifier of its registration descriptor (tag 5), e.g. ``b"Opus"``."""
        for tag, body in iter_descriptors(self.descriptors):
            if tag == DESC_REGISTRATION and len(body) >= 4:
                return body[:4]
        return None

    @property
    def is_opus(self) -> bool:
        """Opus in TS (the Opus project's ETSI-style draft): a private PES registered as ``Opus``."""
        return self.stream_type == StreamType.PRIVATE_PES and self.registration == OPUS_REGISTRATION

    @property
    def opus_channel_config(self) -> int | None:
        """The channel_config_code of the DVB extension descriptor (tag 0x7f, extension 0x80), if any:
        0x01..0x08 = that many channels (1, 2: one Opus stream), 0x00 = dual mono, 0x80 = extended."""
        for tag, body in iter_descriptors(self.descriptors):
            if tag == DESC_DVB_EXTENSION and len(body) >= 2 and body[0] == DESC_EXT_OPUS:
                return body[1]
        return None

    @property
    def stream_id(self) -> int:
        if self.stream_type in _VIDEO_TYPES:
            return STREAM_ID_VIDEO
        if self.stream_type == StreamType.PRIVATE_PES:
            return STREAM_ID_PRIVATE_1
        return STREAM_ID_AUDIO

    @property
    def is_video(self) -> bool:
        return self.stream_type in _VIDEO_TYPES


@dataclass(frozen=True, slots=True)
class PesFrame:
    """One reassembled PES packet: an access unit (or several, for audio)."""

    pid: int
    stream_type: int
    stream_id: int
    pts: int | None
    dts: int | None
    payload: bytes
    random_access: bool = False  # the random access indicator of its first packet
    discontinuity: bool = False  # a continuity counter gap (loss) happened inside or before it
    timeline_reset: bool = False  # the discontinuity_indicator of its adaptation field (a new time base)


def _timestamp(prefix: int, ts: int) -> bytes:
    ts %= MAX_PTS
    return bytes(
        (
            (prefix << 4) | (((ts >> 30) & 0x07) << 1) | 1,
            (ts >> 22) & 0xFF,
            (((ts >> 15) & 0x7F) << 1) | 1,
            (ts >> 7) & 0xFF,
            ((ts & 0x7F) << 1) | 1,
        )
    )


def _read_timestamp(b: bytes, i: int) -> int:
    return ((b[i] >> 1) & 0x07) << 30 | b[i + 1] << 22 | (b[i + 2] >> 1) << 15 | b[i + 3] << 7 | b[i + 4] >> 1


def pes_header(stream_id: int, payload_len: int, pts: int, dts: int | None) -> bytes:
    """A PES header with PTS (and DTS when it differs); the length is 0 (unbounded) for video
    frames over 65535 bytes, as the standard allows for video."""
    if dts is not None and dts != pts:
        fields = _timestamp(0b0011, pts) + _timestamp(0b0001, dts)
        flags = 0xC0
    else:
        fields = _timestamp(0b0010, pts)
        flags = 0x80
    length = 3 + len(fields) + payload_len
    if length > 0xFFFF:
        length = 0
    return bytes((0, 0, 1, stream_id, length >> 8, length & 0xFF, 0x80, flags, len(fields))) + fields


def _section(table_id: int, ext_id: int, body: bytes) -> bytes:
    """A PSI section (syntax indicator 1, version 0, current) with its CRC, after pointer_field 0."""
    length = 5 + len(body) + 4
    head = bytes(
        (table_id, 0xB0 | (length >> 8), length & 0xFF, ext_id >> 8, ext_id & 0xFF, 0xC1, 0x00, 0x00)
    )
    sec = head + body
    return b"\x00" + sec + crc32_mpeg(sec).to_bytes(4, "big")


class TsMuxer:
    """Packets for one program; keeps the continuity counters (one muxer per output stream)."""

    def __init__(
        self, streams: Sequence[TsStream], *, pmt_pid: int = PMT_PID, pcr_pid: int | None = None
    ) -> None:
        if not streams:
            raise ValueError("a TS program needs at least one stream")
        self.streams = {s.pid: s for s in streams}
        self.pmt_pid = pmt_pid
        video = [s.pid for s in streams if s.is_video]
        self.pcr_pid = pcr_pid if pcr_pid is not None else (video[0] if video else streams[0].pid)
        self._cc: dict[int, int] = {}

    def _next_cc(self, pid: int) -> int:
        cc = self._cc.get(pid, -1)
        cc = (cc + 1) & 0x0F
        self._cc[pid] = cc
        return cc

    def _psi_packet(self, pid: int, section: bytes) -> bytes:
        head = bytes((SYNC, 0x40 | (pid >> 8), pid & 0xFF, 0x10 | self._next_cc(pid)))
        return head + section + b"\xff" * (PACKET_SIZE - 4 - len(section))

    def tables(self) -> bytes:
        """PAT then PMT (each one packet), to start a stream or a segment."""
        pat = _section(
            0x00,
            TRANSPORT_STREAM_ID,
            bytes(
                (PROGRAM_NUMBER >> 8, PROGRAM_NUMBER & 0xFF, 0xE0 | (self.pmt_pid >> 8), self.pmt_pid & 0xFF)
            ),
        )
        body = bytearray((0xE0 | (self.pcr_pid >> 8), self.pcr_pid & 0xFF, 0xF0, 0x00))
        for s in self.streams.values():
            n = len(s.descriptors)
            body += bytes((s.stream_type, 0xE0 | (s.pid >> 8), s.pid & 0xFF, 0xF0 | (n >> 8), n & 0xFF))
            body += s.descriptors
        pmt = _section(0x02, PROGRAM_NUMBER, bytes(body))
        return self._psi_packet(PAT_PID, pat) + self._psi_packet(self.pmt_pid, pmt)

    def frame(
        self, pid: int, payload: bytes, pts: int, dts: int | None = None, *, key: bool = False
    ) -> bytes:
        """The packets of one frame (PTS/DTS in 90 kHz units); ``key`` sets random_access."""
        stream = self.streams[pid]
        pes = pes_header(stream.stream_id, len(payload), pts, dts) + payload
        with_pcr = pid == self.pcr_pid
        out = bytearray()
        pos = 0
        n = len(pes)
        first = True
        while pos < n:
            af: bytes | None = None  # adaptation field after its length byte; None = absent
            if first and (with_pcr or key):
                af = bytes(((0x40 if key else 0) | (0x10 if with_pcr else 0),))
                if with_pcr:
                    base = (dts if dts is not None else pts) % MAX_PTS
                    af += bytes(
                        (base >> 25, (base >> 17) & 0xFF, (base >> 9) & 0xFF, (base >> 1) & 0xFF,
                         ((base & 1) << 7) | 0x7E, 0x00)
                    )  # fmt: skip
            room = PACKET_SIZE - 4 - (1 + len(af) if af is not None else 0)
            left = n - pos
            if left < room:
                # Stuff the adaptation field so the payload ends the packet exactly.
                stuff = room - left
                if af is not None:
                    af += b"\xff" * stuff
                elif stuff == 1:
                    af = b""  # an adaptation field of length 0: its length byte only
                else:
                    af = b"\x00" + b"\xff" * (stuff - 2)
                room = left
            cc = self._next_cc(pid)
            out += bytes(
                (
                    SYNC,
                    (0x40 if first else 0) | (pid >> 8),
                    pid & 0xFF,
                    (0x30 if af is not None else 0x10) | cc,
                )
            )
            if af is not None:
                out.append(len(af))
                out += af
            out += pes[pos : pos + room]
            pos += room
            first = False
        return bytes(out)


@dataclass
class _PesBuffer:
    stream: TsStream
    parts: list[bytes] = field(default_factory=list)
    size: int = 0
    expected: int = 0  # PES_packet_length + 6, or 0 for unbounded
    random_access: bool = False
    discontinuity: bool = False
    timeline_reset: bool = False


class TsDemuxer:
    """Packets in, :class:`PesFrame` out; see the module docstring for what it tolerates."""

    MAX_PES = 8 << 20  # a PES bigger than this is dropped (a lost start code would grow it forever)

    def __init__(self) -> None:
        self.streams: dict[int, TsStream] = {}
        self.pmt_pids: set[int] = set()
        self.errors = 0
        self._buf = b""
        self._cc: dict[int, int] = {}
        self._pes: dict[int, _PesBuffer] = {}

    def feed(self, data: bytes) -> list[PesFrame]:
        buf = self._buf + data if self._buf else bytes(data)
        out: list[PesFrame] = []
        pos = 0
        n = len(buf)
        while n - pos >= PACKET_SIZE:
            if buf[pos] != SYNC:
                # Lost sync: the next 0x47 that another 0x47 follows 188 bytes later (when known).
                self.errors += 1
                nxt = buf.find(b"\x47", pos + 1)
                while nxt >= 0 and nxt + PACKET_SIZE < n and buf[nxt + PACKET_SIZE] != SYNC:
                    nxt = buf.find(b"\x47", nxt + 1)
                pos = n if nxt < 0 else nxt
                continue
            self._packet(buf[pos : pos + PACKET_SIZE], out)
            pos += PACKET_SIZE
        self._buf = buf[pos:]
        return out

    def flush(self) -> list[PesFrame]:
        """Frames still being assembled (end of input)."""
        out: list[PesFrame] = []
        for pid in list(self._pes):
            self._finish(pid, out)
        return out

    def _packet(self, p: bytes, out: list[PesFrame]) -> None:
        if p[1] & 0x80:  # transport error indicator
            self.errors += 1
            return
        pusi = bool(p[1] & 0x40)
        pid = ((p[1] & 0x1F) << 8) | p[2]
        afc = (p[3] >> 4) & 0x03
        cc = p[3] & 0x0F
        if pid == NULL_PID or afc == 0:
            return
        i = 4
        random_access = reset = False
        if afc & 0x02:
            af_len = p[4]
            if af_len > 183:
                self.errors += 1
                return
            if af_len and p[5] & 0x40:
                random_access = True
            if af_len and p[5] & 0x80:
                reset = True
            i = 5 + af_len
        if not afc & 0x01:
            return
        lost = False
        last = self._cc.get(pid)
        if last is not None and cc != last and cc != (last + 1) & 0x0F:
            lost = True
        self._cc[pid] = cc
        payload = p[i:]
        if pid == PAT_PID or pid in self.pmt_pids:
            if pusi:
                self._psi(pid, payload)
            return
        stream = self.streams.get(pid)
        if stream is None:
            return
        if pusi:
            self._finish(pid, out)
            if len(payload) < 9 or payload[0:3] != b"\x00\x00\x01":
                self.errors += 1
                return
            length = (payload[4] << 8) | payload[5]
            self._pes[pid] = _PesBuffer(
                stream, [payload], len(payload), length + 6 if length else 0, random_access, lost, reset
            )
        else:
            buf = self._pes.get(pid)
            if buf is None:
                return  # the start of this PES was lost: skip to the next one
            buf.parts.append(payload)
            buf.size += len(payload)
            buf.discontinuity = buf.discontinuity or lost
            if buf.size > self.MAX_PES:
                del self._pes[pid]
                self.errors += 1
                return
        cur = self._pes.get(pid)
        if cur is not None and cur.expected and cur.size >= cur.expected:
            self._finish(pid, out)

    def _finish(self, pid: int, out: list[PesFrame]) -> None:
        buf = self._pes.pop(pid, None)
        if buf is None:
            return
        pes = b"".join(buf.parts)
        if buf.expected:
            pes = pes[: buf.expected]
        if len(pes) < 9:
            self.errors += 1
            return
        flags = pes[7]
        hlen = pes[8]
        if 9 + hlen > len(pes):
            self.errors += 1
            return
        pts = dts = None
        if flags & 0x80 and hlen >= 5:
            pts = _read_timestamp(pes, 9)
            dts = pts
            if flags & 0x40 and hlen >= 10:
                dts = _read_timestamp(pes, 14)
        s = buf.stream
        out.append(
            PesFrame(
                pid,
                s.stream_type,
                pes[3],
                pts,
                dts,
                pes[9 + hlen :],
                buf.random_access,
                buf.discontinuity,
                buf.timeline_reset,
            )
        )

    def _psi(self, pid: int, payload: bytes) -> None:
        if not payload:
            return
        start = 1 + payload[0]  # pointer_field
        sec = payload[start:]
        if len(sec) < 12:
            self.errors += 1
            return
        table_id = sec[0]
        length = ((sec[1] & 0x0F) << 8) | sec[2]
        if 3 + length > len(sec) or length < 9:
            self.errors += 1  # a section spanning packets: not written by encoders we know
            return
        body = sec[: 3 + length]
        if crc32_mpeg(body[:-4]) != int.from_bytes(body[-4:], "big"):
            self.errors += 1
            return
        entries = body[8:-4]
        if table_id == 0x00 and pid == PAT_PID:
            for j in range(0, len(entries) - 3, 4):
                program = (entries[j] << 8) | entries[j + 1]
                if program != 0:
                    self.pmt_pids.add(((entries[j + 2] & 0x1F) << 8) | entries[j + 3])
        elif table_id == 0x02:
            if len(entries) < 4:
                self.errors += 1
                return
            info_len = ((entries[2] & 0x0F) << 8) | entries[3]
            j = 4 + info_len
            streams: dict[int, TsStream] = {}
            while j + 5 <= len(entries):
                st = entries[j]
                epid = ((entries[j + 1] & 0x1F) << 8) | entries[j + 2]
                es_len = ((entries[j + 3] & 0x0F) << 8) | entries[j + 4]
                streams[epid] = TsStream(epid, st, bytes(entries[j + 5 : j + 5 + es_len]))
                j += 5 + es_len
            self.streams = streams


def packets(data: bytes) -> Iterable[bytes]:
    """The 188-byte packets of ``data`` (a whole number of them)."""
    for i in range(0, len(data) - PACKET_SIZE + 1, PACKET_SIZE):
        yield data[i : i + PACKET_SIZE]
