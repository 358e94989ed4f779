"""GB28181 media (MPEG-PS) -> live Source messages, sans-IO: the remuxer of the ``gb28181`` caster.

SRS (``SrsGbMuxer`` in ``srs_app_gb28181.cpp``) turns each pack's video into FLV AVC/HEVC frames with a
sequence header whenever SPS/PPS(/VPS) change, ADTS AAC into raw AAC frames after its
AudioSpecificConfig, DTS/90 as the message time, then publishes them over RTMP to ``output``. We publish
into the Source directly, through :class:`srs.remux.ts_in.TsIngest` (the MPEG-TS ingest's Annex B /
ADTS -> message code, timeline and start logic): :class:`PsFeed` stands in for its demuxer, giving it
the frames of :class:`srs.format.ps.PsDemuxer`. Where we differ from SRS:

* G.711 (PSM stream types 0x90 A-law, 0x91 mu-law), which SRS's muxer drops (it only reads ADTS), is
  transcoded to AAC-LC once per stream with PyAV (:class:`G711ToAac`, mono at the G.711 rate of
  8 kHz), so the stream plays in every RTMP/FLV/HLS player;
* H.265 is Enhanced RTMP ``hvc1`` and the composition time (PTS - DTS) is kept, as in TS ingest;
* SRS's reorder queue (``SrsMpegpsQueue``: 2 audio + 2 video before sending) is not needed: the Source
  orders by the timestamps we give.
"""

from __future__ import annotations

import array
import logging
import struct
from fractions import Fraction

import av
import av.error

from srs.codec import aac
from srs.format.ps import PsDemuxer, PsStreamType
from srs.format.ts import PesFrame, StreamType, TsStream
from srs.remux.ts_in import TsIngest
from srs.util.errors import SrsError

log = logging.getLogger("srs")

G711_RATE = 8000
AAC_FRAME = 1024
AAC_BITRATE = 32000
MAX_GAP_90K = 90000  # an input jump bigger than this (1 s) re-anchors the transcoder's sample clock
_G711 = {PsStreamType.G711A: "pcm_alaw", PsStreamType.G711U: "pcm_mulaw"}
_ERRORS = (av.error.FFmpegError, ValueError, SrsError, IndexError, TypeError)


class G711ToAac:
    """G.711 frames (PES payloads with a 90 kHz PTS) -> ADTS AAC frames with their 90 kHz PTS."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.dropped = 0
        self.frames = 0
        self._dec: av.AudioCodecContext | None = None
        self._enc: av.AudioCodecContext | None = None
        self._config: aac.AacConfig | None = None
        self._pcm = bytearray()  # fltp mono samples waiting for a full AAC frame
        self._anchor = 0  # 90 kHz time of sample 0 of the current clock
        self._next: int | None = None  # sample count expected next (input clock)
        self._pos = 0  # sample count of the first sample in _pcm

    def push(self, payload: bytes, pts: int) -> list[tuple[int, bytes]]:
        try:
            return self._push(payload, pts)
        except _ERRORS as e:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 500 == 0:
                log.warning("GB: G.711 -> AAC dropped a frame (%d so far): %s", self.dropped, e)
            self._dec = self._enc = None
            self._next = None
            return []

    def _open(self, pts: int) -> None:
        dec = av.CodecContext.create(self.codec, "r")
        assert isinstance(dec, av.AudioCodecContext)
        dec.sample_rate, dec.layout = G711_RATE, "mono"
        dec.open()
        enc = av.CodecContext.create("aac", "w")
        assert isinstance(enc, av.AudioCodecContext)
        enc.sample_rate, enc.layout, enc.format = G711_RATE, "mono", "fltp"
        enc.bit_rate = AAC_BITRATE
        enc.time_base = Fraction(1, G711_RATE)
        enc.open()
        self._dec, self._enc = dec, enc
        self._config = aac.parse_asc(bytes(enc.extradata or b""))
        self._anchor, self._next, self._pos, self._pcm = pts, 0, 0, bytearray()

    def _push(self, payload: bytes, pts: int) -> list[tuple[int, bytes]]:
        if self._enc is None or self._next is None:
            self._open(pts)
        assert self._dec is not None and self._next is not None
        expected = self._anchor + self._next * 90000 // G711_RATE
        if abs(pts - expected) > MAX_GAP_90K:
            self._open(pts)  # a jump: a new clock (the tail of the old one is dropped)
        out: list[tuple[int, bytes]] = []
        assert self._dec is not None
        for f in self._dec.decode(av.Packet(payload)):
            for r in self._resample(f):
                self._pcm += r
        self._next += len(payload)  # one byte per sample
        size = AAC_FRAME * 4
        while len(self._pcm) >= size:
            frame = av.AudioFrame(format="fltp", layout="mono", samples=AAC_FRAME)
            frame.planes[0].update(bytes(self._pcm[:size]))
            del self._pcm[:size]
            frame.sample_rate = G711_RATE
            frame.time_base = Fraction(1, G711_RATE)
            frame.pts = self._pos
            self._pos += AAC_FRAME
            out += self._encode(frame)
        return out

    def _resample(self, f: av.AudioFrame) -> list[bytes]:
        # s16 mono -> fltp mono, by hand (no resampler state to carry across packets)
        raw = bytes(f.planes[0])[: f.samples * 2]
        a = array.array("h")
        a.frombytes(raw)
        fl = array.array("f", (s / 32768.0 for s in a))
        return [fl.tobytes()]

    def _encode(self, frame: av.AudioFrame) -> list[tuple[int, bytes]]:
        assert self._enc is not None and self._config is not None
        out: list[tuple[int, bytes]] = []
        for p in self._enc.encode(frame):
            data = bytes(p)
            if data and p.pts is not None:
                self.frames += 1
                t = self._anchor + max(0, int(p.pts)) * 90000 // G711_RATE
                out.append((t, aac.build_adts(self._config, len(data)) + data))
        return out


class PsFeed:
    """The demuxer side of :class:`TsIngest` for PS: PS bytes -> :class:`PesFrame` s, G.711 -> AAC."""

    def __init__(self) -> None:
        self.ps = PsDemuxer()
        self._g711: dict[int, G711ToAac] = {}

    @property
    def errors(self) -> int:
        return self.ps.errors

    @property
    def streams(self) -> dict[int, TsStream]:
        """The PSM's streams as TsIngest reads them (G.711 announced as the AAC it becomes)."""
        return {
            sid: TsStream(sid, StreamType.AAC) if s.stream_type in _G711 else s
            for sid, s in self.ps.streams.items()
        }

    def feed(self, data: bytes) -> list[PesFrame]:
        return self._convert(self.ps.feed(data))

    def flush(self) -> list[PesFrame]:
        return self._convert(self.ps.flush())

    def _convert(self, frames: list[PesFrame]) -> list[PesFrame]:
        out: list[PesFrame] = []
        for f in frames:
            codec = _G711.get(f.stream_type)  # type: ignore[call-overload]
            if codec is None:
                out.append(f)
                continue
            if f.pts is None:
                continue
            t = self._g711.get(f.pid)
            if t is None or t.codec != codec:
                t = self._g711[f.pid] = G711ToAac(codec)
            for pts, adts in t.push(f.payload, f.pts):
                out.append(PesFrame(f.pid, StreamType.AAC, f.stream_id, pts, pts, adts))
        return out


class GbIngest(TsIngest):
    """PS payloads of one GB28181 device (RTP payloads, in order) -> Source messages (sans-IO)."""

    def __init__(self) -> None:
        super().__init__()
        self.feed_ps = PsFeed()
        self.demuxer = self.feed_ps  # type: ignore[assignment]

    @property
    def ps(self) -> PsDemuxer:
        return self.feed_ps.ps


def parse_rtp(pkt: bytes) -> tuple[int, bytes] | None:
    """An RTP packet -> (SSRC, payload); RTCP -> (SSRC, b""); None when it is not RTP (RFC 3550 5.1)."""
    if len(pkt) < 12 or pkt[0] >> 6 != 2:
        return None
    if 192 <= pkt[1] <= 223:
        return struct.unpack_from(">I", pkt, 4)[0], b""  # RTCP: the sender's SSRC
    ssrc = struct.unpack_from(">I", pkt, 8)[0]
    cc, ext, pad = pkt[0] & 0x0F, pkt[0] & 0x10, pkt[0] & 0x20
    i = 12 + 4 * cc
    if ext:
        if len(pkt) < i + 4:
            return None
        i += 4 + 4 * struct.unpack_from(">H", pkt, i + 2)[0]
    end = len(pkt) - (pkt[-1] if pad else 0)
    if i > end:
        return None
    return ssrc, pkt[i:end]
