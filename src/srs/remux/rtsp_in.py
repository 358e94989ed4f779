"""RTSP publisher (ANNOUNCE/RECORD) -> live Source: :class:`~srs.remux.rtc_in.RtcIngest` with AAC.

An RTSP publisher (ffmpeg ``-f rtsp``, a camera pushing) sends H.264/H.265 as WebRTC does, so the
video path is :class:`RtcIngest`'s (reorder buffer, frame assembly, sequence headers from the
parameter sets, A/V alignment by RTCP sender reports). What differs is announced in the SDP:

* the parameter sets usually come only in ``sprop-parameter-sets`` (H.264) or ``sprop-vps/sps/pps``
  (H.265), not in the stream: they seed the sequence header;
* audio is AAC as ``MPEG4-GENERIC`` (RFC 3640, ``AAC-hbr``: 16-bit AU-headers-length, then 13-bit
  sizes and 3-bit indexes; several AUs per packet, or one AU in fragments), its clock the sample rate
  and its AudioSpecificConfig the ``config`` parameter; it is kept as AAC (no transcoding). Opus is
  transcoded to AAC as from WebRTC.

SRS 7's RTSP server does not take publishers (play only); this is ours.
"""

from __future__ import annotations

from collections.abc import Sequence

from srs.codec import aac
from srs.format.flv import AudioCodec, VideoPacketType, audio_body
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtc.payload import Event, Lost
from srs.protocol.rtsp.sdp import AnnouncedTrack, b64_sets
from srs.remux.rtc_in import RtcIngest, _Audio, _Clock
from srs.util.errors import ParseError, SrsError

AAC_FRAME_SAMPLES = 1024


def aac_units(payload: bytes, size_length: int = 13, index_length: int = 3) -> list[tuple[bytes, int]]:
    """``(data, AU size)`` of each access unit of one RFC 3640 payload (a fragment's data is shorter
    than its AU size); raises :class:`ParseError`."""
    if len(payload) < 2:
        raise ParseError("AAC RTP payload without AU headers")
    header_bits = (payload[0] << 8) | payload[1]
    header_bytes = (header_bits + 7) // 8
    if 2 + header_bytes > len(payload):
        raise ParseError("AAC AU headers truncated")
    bits = int.from_bytes(payload[2 : 2 + header_bytes], "big") if header_bytes else 0
    per = size_length + index_length
    if per <= 0 or header_bits % per:
        raise ParseError(f"AAC AU-headers-length {header_bits} is not a multiple of {per}")
    count = header_bits // per
    pos = 2 + header_bytes
    out = []
    for i in range(count):
        shift = header_bytes * 8 - (i + 1) * per + index_length
        size = (bits >> shift) & ((1 << size_length) - 1)
        unit = payload[pos : pos + size]
        if not unit:
            raise ParseError("AAC AU past the payload")
        out.append((unit, size))
        pos += size
    return out


class RtspIngest(RtcIngest):
    """RTP packets of an RTSP publisher's tracks -> :class:`MediaMessage` s (sans-IO)."""

    def __init__(self, video: AnnouncedTrack | None, audio: AnnouncedTrack | None) -> None:
        vcodec = None
        if video is not None:
            vcodec = {"H264": "h264", "H265": "h265"}.get(video.codec)
        is_aac = audio is not None and audio.codec == "MPEG4-GENERIC"
        is_opus = audio is not None and audio.codec == "OPUS"
        super().__init__(vcodec, is_aac or is_opus, video_clock=video.clock if video else 90000)
        self._aac_mode = is_aac
        self._frag = bytearray()
        self._size_length = 13
        self._index_length = 3
        if is_aac and audio is not None:
            self._aac = None  # AAC stays AAC
            fmtp = audio.fmtp
            self._size_length = _int(fmtp.get("sizelength"), 13)
            self._index_length = _int(fmtp.get("indexlength"), 3)
            asc = bytes.fromhex(fmtp.get("config", "")) if _hex(fmtp.get("config", "")) else b""
            rate = audio.clock
            if asc:
                try:
                    rate = aac.parse_asc(asc).sample_rate or rate
                except SrsError:
                    asc = b""
            if not asc:
                asc = aac.build_asc(2, rate, audio.channels or 2)
            self._clocks["audio"] = _Clock(rate)
            self._audio_sh = MediaMessage(
                AUDIO, 0, audio_body(AudioCodec.AAC, 0, asc), sequence_header=True, codec=AudioCodec.AAC
            )
        if video is not None and vcodec is not None:
            self._seed(vcodec, video.fmtp)

    def _seed(self, vcodec: str, fmtp: dict[str, str]) -> None:
        """The sequence header from the SDP's parameter sets (the stream may never repeat them)."""
        try:
            if vcodec == "h264":
                sets = b64_sets(fmtp.get("sprop-parameter-sets", ""))
            else:
                sets = [s for k in ("vps", "sps", "pps") for s in b64_sets(fmtp.get(f"sprop-{k}", ""))]
        except SrsError:
            return
        sets = [s for s in sets if s]
        if sets:
            clock = self._clocks["video"]
            clock.last = 0  # _on_frame reads the clock; the real start comes with the first packet
            self._on_frame(0, sets, True, ())
            clock.last = None

    def _on_audio(self, events: list[Event]) -> list[MediaMessage]:
        if not self._aac_mode:
            return super()._on_audio(events)
        out: list[MediaMessage] = []
        clock = self._clocks["audio"]
        for ev in events:
            if isinstance(ev, Lost):
                self._frag.clear()
                continue
            if not ev.payload:
                continue
            try:
                units = aac_units(ev.payload, self._size_length, self._index_length)
            except SrsError as e:
                out += self._fail(f"bad AAC packet: {e}")
                continue
            if len(units) == 1 and (self._frag or len(units[0][0]) < units[0][1]):
                self._frag += units[0][0]  # a fragment of a big AU: until its size is reached
                if len(self._frag) < units[0][1] and not ev.marker:
                    continue
                units = [(bytes(self._frag), units[0][1])]
                self._frag.clear()
            ext = clock.unwrap(ev.timestamp)
            for i, (unit, _) in enumerate(units):
                self.stats.audio_packets += 1
                ms = clock.ms(ext + i * AAC_FRAME_SAMPLES)
                body = audio_body(AudioCodec.AAC, 1, unit)
                out += self._on_audio_msg(_Audio(ms, body, AudioCodec.AAC, []))
        return out


REORDER_FRAMES = 3  # video frames held to find decode times (B-frame reordering up to 2 deep)


class DecodeTimes:
    """RTP video timestamps are presentation times; FLV/RTMP needs decode time + composition time.

    Frames come in decode order; each is held until :data:`REORDER_FRAMES` later ones arrived, then
    gets ``dts = min(pts of it and the held ones)``, never below the previous dts (so dts <= pts and
    dts never goes back) and ``cts = pts - dts``. Without B-frames every cts is 0 (at the cost of the
    hold). Other messages pass straight through.
    """

    __slots__ = ("_held", "_last")

    def __init__(self) -> None:
        self._held: list[MediaMessage] = []
        self._last: int | None = None

    def push(self, messages: Sequence[MediaMessage]) -> list[MediaMessage]:
        out: list[MediaMessage] = []
        for m in messages:
            if m.kind != VIDEO or m.sequence_header:
                out.append(m)
                continue
            self._held.append(m)
            if len(self._held) > REORDER_FRAMES:
                out.append(self._release())
        return out

    def flush(self) -> list[MediaMessage]:
        out = []
        while self._held:
            out.append(self._release())
        return out

    def _release(self) -> MediaMessage:
        m = self._held[0]
        dts = min(h.timestamp for h in self._held)
        if self._last is not None and dts < self._last:
            dts = self._last
        self._held.pop(0)
        self._last = dts
        cts = m.timestamp - dts
        if cts <= 0:
            return m
        return MediaMessage(
            VIDEO, dts, _with_cts(m.payload, cts), keyframe=m.keyframe, codec=m.codec, rtp=m.rtp
        )


def _with_cts(body: bytes, cts: int) -> bytes:
    """An AVC (legacy) or HEVC (E-RTMP CodedFramesX) coded-frame body with composition time ``cts``."""
    cts = min(cts, 0x7FFFFF)
    ct = cts.to_bytes(3, "big")
    if body[0] & 0x80:  # E-RTMP: CodedFramesX (no cts) -> CodedFrames with one
        if body[0] & 0x0F == VideoPacketType.CODED_FRAMES_X:
            return bytes((body[0] & 0xF0 | VideoPacketType.CODED_FRAMES,)) + body[1:5] + ct + body[5:]
        return body
    return body[:2] + ct + body[5:]


def plain(messages: Sequence[MediaMessage]) -> list[MediaMessage]:
    """The messages without the RTP payloads :class:`RtcIngest` attaches: an RTSP publisher's packets
    (ffmpeg's are up to 1460 bytes, SPS/PPS only in the SDP) are not what WebRTC players should get
    as they are, so the players' wires packetize these messages again (and transcode the AAC)."""
    out = []
    for m in messages:
        if m.rtp is not None:
            m = MediaMessage(
                m.kind,
                m.timestamp,
                m.payload,
                keyframe=m.keyframe,
                sequence_header=m.sequence_header,
                codec=m.codec,
            )
        out.append(m)
    return out


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 3 else default


def _hex(value: str) -> bool:
    return bool(value) and len(value) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in value)
