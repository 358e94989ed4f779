"""MPEG-2 program stream (ISO/IEC 13818-1 2.5) demuxer, sans-IO: the media of a GB28181 device.

A GB28181 camera sends PS in RTP: every frame starts a *pack* (``00 00 01 BA`` pack header, a system
header ``BB`` and a program stream map ``BC`` before keyframes), then PES packets: video ``E0`` (one
frame may be cut into several PES packets, only the first with a PTS), audio ``C0``. The PSM says what
the streams are (stream types as in TS: H.264 0x1B, H.265 0x24, AAC 0x0F, G.711 A-law 0x90, mu-law
0x91).

SRS (``SrsPsContext`` / ``SrsPsPacket`` in ``srs_kernel_ps.cpp``, ``SrsGbSession::on_ps_pack``) joins
all the video PES of one pack into one video frame and passes audio PES one by one; on a parse error
it drops what it has and skips to the next pack header (``srs_skip_util_pack``). :class:`PsDemuxer`
does the same, streaming (``feed`` any chunking), and returns :class:`srs.format.ts.PesFrame` objects
(``pid`` is the PES stream id), so the TS ingest code reads them. Where we differ: we do not give up
after 16 recoveries (SRS then fails the session), padding/private streams are skipped by their length,
and a video frame is also closed when the next PES carries a new PTS (a pack with two frames).

Nothing raises on input: what does not parse is counted in :attr:`PsDemuxer.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from srs.format.ts import PesFrame, TsStream

PACK = 0xBA
SYSTEM = 0xBB
PSM = 0xBC
END = 0xB9


class PsStreamType(IntEnum):
    """PSM stream types of GB28181 media (the TS ones, plus GB's G.711 codes)."""

    H264 = 0x1B
    H265 = 0x24
    AAC = 0x0F
    G711A = 0x90
    G711U = 0x91


def is_video_id(stream_id: int) -> bool:
    return 0xE0 <= stream_id <= 0xEF


def is_audio_id(stream_id: int) -> bool:
    return 0xC0 <= stream_id <= 0xDF


@dataclass(slots=True)
class _Video:
    stream_id: int
    pts: int | None
    dts: int | None
    parts: list[bytes]


def parse_psm(body: bytes) -> dict[int, int]:
    """A program stream map's body (after its 6-byte start code and length) -> {stream id: type}.

    Raises ``IndexError`` on a short body (the caller counts it)."""
    info_len = (body[2] << 8) | body[3]
    i = 4 + info_len
    es_len = (body[i] << 8) | body[i + 1]
    i += 2
    end = min(i + es_len, len(body) - 4)  # the CRC_32 closes the map
    out: dict[int, int] = {}
    while i + 4 <= end:
        stype, sid = body[i], body[i + 1]
        out[sid] = stype
        i += 4 + ((body[i + 2] << 8) | body[i + 3])
    return out


def _timestamp(b: bytes, i: int) -> int:
    return ((b[i] >> 1) & 0x07) << 30 | b[i + 1] << 22 | (b[i + 2] >> 1) << 15 | b[i + 3] << 7 | b[i + 4] >> 1


def parse_pes(pes: bytes) -> tuple[int | None, int | None, bytes]:
    """A whole MPEG-2 PES packet -> (pts, dts, payload). Raises ``ValueError`` on a bad header."""
    if len(pes) < 9 or pes[6] >> 6 != 0b10:
        raise ValueError("not an MPEG-2 PES header")
    flags, hlen = pes[7] >> 6, pes[8]
    if 9 + hlen > len(pes):
        raise ValueError("PES header longer than the packet")
    pts = dts = None
    if flags & 0b10:
        if hlen < 5:
            raise ValueError("PES PTS flag without the field")
        pts = _timestamp(pes, 9)
        dts = pts
        if flags == 0b11:
            if hlen < 10:
                raise ValueError("PES DTS flag without the field")
            dts = _timestamp(pes, 14)
    return pts, dts, pes[9 + hlen :]


class PsDemuxer:
    """PS bytes -> elementary-stream frames (video: one per pack; audio: one per PES)."""

    def __init__(self) -> None:
        self.streams: dict[int, TsStream] = {}  # stream id -> (stream id, PSM stream type)
        self.errors = 0  # bytes skipped to resync, units that did not parse
        self.packs = 0
        self._buf = bytearray()
        self._sync = False  # inside a pack (after a pack header)
        self._video: _Video | None = None
        self._last_pts: dict[int, tuple[int | None, int | None]] = {}

    def feed(self, data: bytes) -> list[PesFrame]:
        self._buf += data
        out: list[PesFrame] = []
        while True:
            n = self._unit(out)
            if n == 0:
                break
            del self._buf[:n]
        return out

    def flush(self) -> list[PesFrame]:
        """End of the stream: the video frame being gathered (what is left unparsed is dropped)."""
        out: list[PesFrame] = []
        self._close_video(out)
        if self._buf:
            self.errors += 1
            self._buf.clear()
        return out

    # --- internals

    def _unit(self, out: list[PesFrame]) -> int:
        """Parse one unit at the head of the buffer: its size, or 0 when more bytes are needed."""
        b = self._buf
        if len(b) < 4:
            return 0
        if b[0] != 0 or b[1] != 0 or b[2] != 1 or (not self._sync and b[3] != PACK):
            return self._resync(out, 0)
        code = b[3]
        if code == PACK:
            if len(b) < 14:
                return 0
            if b[4] >> 6 != 0b01:  # MPEG-1 packs (and garbage) are not GB's
                return self._resync(out, 4)
            size = 14 + (b[13] & 0x07)
            if len(b) < size:
                return 0
            self._close_video(out)
            self._sync = True
            self.packs += 1
            return size
        if code == END:
            self._close_video(out)
            self._sync = False
            return 4
        if code < 0xB9:  # a video start code inside garbage: not a PS unit
            return self._resync(out, 4)
        if len(b) < 6:
            return 0
        size = 6 + ((b[4] << 8) | b[5])
        if len(b) < size:
            return 0
        unit = bytes(b[:size])
        try:
            if code == PSM:
                for sid, stype in parse_psm(unit[6:]).items():
                    self.streams[sid] = TsStream(sid, stype)
            elif is_video_id(code) or is_audio_id(code):
                self._pes(code, unit, out)
            # 0xBB system header, 0xBD/0xBF private, 0xBE padding, others: skipped by their length
        except (ValueError, IndexError):
            self.errors += 1
            self._video = None
            self._sync = False  # as SRS: drop the pack, wait for the next one
        return size

    def _pes(self, sid: int, unit: bytes, out: list[PesFrame]) -> None:
        pts, dts, payload = parse_pes(unit)
        if pts is None:
            pts, dts = self._last_pts.get(sid, (None, None))
        else:
            self._last_pts[sid] = (pts, dts)
        stype = self.streams[sid].stream_type if sid in self.streams else 0
        if is_audio_id(sid):
            if payload:
                out.append(PesFrame(sid, stype, sid, pts, dts, payload))
            return
        v = self._video
        if v is not None and (v.stream_id != sid or (unit[7] & 0x80 and pts != v.pts)):
            self._close_video(out)
            v = None
        if v is None:
            self._video = _Video(sid, pts, dts, [payload])
        else:
            v.parts.append(payload)

    def _close_video(self, out: list[PesFrame]) -> None:
        v, self._video = self._video, None
        if v is None:
            return
        payload = b"".join(v.parts)
        if payload:
            stype = self.streams[v.stream_id].stream_type if v.stream_id in self.streams else 0
            out.append(PesFrame(v.stream_id, stype, v.stream_id, v.pts, v.dts, payload))

    def _resync(self, out: list[PesFrame], start: int) -> int:
        """Drop the frame being gathered and skip to the next pack header after ``start``: the bytes
        to drop (all but the last 3 when none is buffered yet)."""
        self.errors += 1
        self._video = None
        self._sync = False
        i = self._buf.find(b"\x00\x00\x01\xba", start)
        if i < 0:
            return max(0, len(self._buf) - 3)
        return i
