"""Media messages -> RTP packets: the wire format WebRTC (WHEP) players of a live source share.

SRS bridges RTMP to WebRTC in ``SrsRtcRtpBuilder`` (``srs_app_rtc_source.cpp``, fed by the RTMP
source's ``SrsFrameToRtcBridge`` / SRS 5's ``SrsRtcFromRtmpBridge``): one builder per stream keeps the
sequence headers, packetizes each video frame (SPS+PPS in a STAP-A before an IDR, single NAL units or
FU-A of 1200 bytes, marker on the last packet, RTP timestamp = DTS * 90), drops B slices unless
``rtc.keep_bframe`` and SEI unless ``rtc.keep_avc_nalu_sei``, transcodes AAC/MP3 to Opus and sends both
kinds with one SSRC and one sequence counter per kind. Packets from a WebRTC publisher are relayed as
they came. Each player's track then rewrites SSRC, payload type and sequence (``SrsRtcSendTrack``).

:class:`RtpWire` is that builder as a :class:`~srs.media.message.WireFormat`: the Source keeps one per
key and shares its bytes among all WebRTC players. Each message becomes its RTP packets (plain RTP, the
player's session adds SRTP), each framed as in RFC 4571 (2-byte big-endian length, then the packet).
The SSRCs are the fixed :data:`VIDEO_SSRC` / :data:`AUDIO_SSRC` the play answer announces; the payload
types are placeholders the player's sink rewrites (byte 1's low 7 bits; the marker is the top bit).
:meth:`RtpWire.retransmit` answers NACKs from the last :data:`CACHE_PACKETS` packets of each kind.

Where we differ from SRS: H.265 is packetized too (RFC 7798; SRS 7's RTMP->RTC bridge skips HEVC) and
its B slices are dropped the same way; a frame with a B slice is dropped whole (SRS drops the B slices
and still sends the frame's other NAL units, e.g. its SEI); AUD NAL units are dropped; Opus from an
RTMP publisher (FLV codec 13 / FourCC ``Opus``) is relayed without transcoding; audio packets carry no
marker bit (SRS sets it on every Opus packet; RFC 7587 leaves it for talkspurts).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator, Sequence

from srs.codec import h264, h265
from srs.codec.nalu import split_avcc
from srs.format.flv import AudioCodec, VideoCodec, parse_audio, parse_video
from srs.media.message import AUDIO, VIDEO, MediaMessage
from srs.protocol.rtc import payload_h264, payload_h265
from srs.protocol.rtc.payload import PayloadPacket
from srs.protocol.rtc.payload_opus import packet_samples
from srs.remux.aac2opus import DEFAULT_BITRATE, AacToOpus
from srs.util.errors import SrsError

log = logging.getLogger("srs")

VIDEO_SSRC = 0x53525356  # "SRSV": announced by the play answer SDP
AUDIO_SSRC = 0x53525341  # "SRSA"
VIDEO_PT = 102  # placeholders: each player's sink writes its negotiated payload type
AUDIO_PT = 111
CACHE_PACKETS = 1024  # retransmission cache per kind (SRS keeps a 1000-slot ring per send track)
REANCHOR_SAMPLES = 48000  # carried Opus: re-anchor the 48 kHz clock on jumps over 1 s

_HEADER = struct.Struct("!HBBHII")  # RFC 4571 length, then the 12-byte RTP header
_H264_DROP = frozenset({h264.NaluType.AUD})
_H264_SEI = h264.NaluType.SEI
_H265_DROP = frozenset({h265.NaluType.AUD})
_H265_SEI = frozenset({h265.NaluType.PREFIX_SEI, h265.NaluType.SUFFIX_SEI})
_CODED = (1, 3)  # VideoPacketType CODED_FRAMES and CODED_FRAMES_X
# Players' video codec -> the messages they take; VP8 only as a WebRTC publisher's payloads.
_WANT = {"h264": VideoCodec.AVC, "h265": VideoCodec.HEVC, "vp8": VideoCodec.VP8}
_WIRE_ERRORS = (SrsError, ValueError, IndexError, struct.error)


def split_frames(data: bytes) -> Iterator[bytes]:
    """The RTP packets of :meth:`RtpWire.encode`'s output (RFC 4571 framing); a cut tail is left out."""
    pos, n = 0, len(data)
    while pos + 2 <= n:
        size = (data[pos] << 8) | data[pos + 1]
        end = pos + 2 + size
        if end > n:
            return
        yield data[pos + 2 : end]
        pos = end


class _Track:
    """One kind's SSRC, payload type, 16-bit sequence counter and retransmission ring."""

    __slots__ = ("cache", "last_ts", "pt", "seq", "ssrc")

    def __init__(self, ssrc: int, pt: int) -> None:
        self.ssrc = ssrc
        self.pt = pt
        self.seq = 0  # the next sequence number (SRS starts its counters at 0 too)
        self.cache: list[tuple[int, bytes] | None] = [None] * CACHE_PACKETS
        self.last_ts: int | None = None  # RTP timestamp of the newest packet (players' sender reports)

    def packets(self, payloads: Sequence[tuple[bytes, bool, int]]) -> bytes:
        """``(payload, marker, timestamp)`` -> framed packets, numbered and cached."""
        out = bytearray()
        seq, ssrc, pt, cache = self.seq, self.ssrc, self.pt, self.cache
        for payload, marker, ts in payloads:
            head = _HEADER.pack(
                12 + len(payload), 0x80, pt | 0x80 if marker else pt, seq, ts & 0xFFFFFFFF, ssrc
            )
            cache[seq % CACHE_PACKETS] = (seq, head[2:] + payload)
            out += head
            out += payload
            seq = (seq + 1) & 0xFFFF
        self.seq = seq
        if payloads:
            self.last_ts = payloads[-1][2] & 0xFFFFFFFF
        return bytes(out)

    def get(self, seq: int) -> bytes | None:
        slot = self.cache[seq % CACHE_PACKETS]
        return slot[1] if slot is not None and slot[0] == seq else None


class RtpWire:
    """WebRTC players' wire format: one object per (source, options), shared by its players.

    ``video_codec`` is the codec the players negotiated ("h264" or "h265"); video of the other codec
    yields nothing. Audio is Opus: AAC/MP3 transcoded once here (``opus_bitrate``), Opus relayed.
    """

    __slots__ = (
        "_avc_length",
        "_carried_next",
        "_failing",
        "_hevc_pps",
        "_hevc_sps",
        "_params",
        "_transcoder",
        "audio",
        "keep_bframe",
        "keep_sei",
        "key",
        "opus_bitrate",
        "preamble",
        "relay_only",
        "video",
        "video_codec",
    )

    def __init__(
        self,
        video_codec: str = "h264",
        *,
        keep_bframe: bool = False,
        keep_sei: bool = True,
        opus_bitrate: int = DEFAULT_BITRATE,
        relay_only: bool = False,
    ) -> None:
        if video_codec not in _WANT:
            raise ValueError(f"RTP wire video codec {video_codec!r} (want h264, h265 or vp8)")
        self.video_codec = video_codec
        self.keep_bframe = keep_bframe
        self.keep_sei = keep_sei
        self.opus_bitrate = opus_bitrate
        # rtmp_to_rtc off: only a WebRTC publisher's payloads (MediaMessage.rtp) reach the players.
        self.relay_only = relay_only
        self.key = ("rtp", video_codec, keep_bframe, keep_sei, opus_bitrate, relay_only)
        self.preamble = b""
        self.video = _Track(VIDEO_SSRC, VIDEO_PT)
        self.audio = _Track(AUDIO_SSRC, AUDIO_PT)
        self._params: list[bytes] = []  # SPS/PPS (H.265: VPS/SPS/PPS) from the sequence header
        self._avc_length = 4
        self._hevc_sps: h265.H265Sps | None = None  # what the HEVC B-slice check needs
        self._hevc_pps: h265.H265Pps | None = None
        self._transcoder: AacToOpus | None = None  # made at the first AAC/MP3 message
        self._carried_next: int | None = None  # next 48 kHz timestamp of relayed Opus
        self._failing = False

    # --- WireFormat

    def encode(self, msg: MediaMessage) -> bytes:
        """The framed RTP packets of ``msg``; ``b""`` when it yields none. Never raises on bad payloads."""
        if self.relay_only and msg.rtp is None:
            return b""
        try:
            if msg.kind == VIDEO:
                out = self._video(msg)
            elif msg.kind == AUDIO:
                out = self._audio(msg)
            else:
                return b""
        except _WIRE_ERRORS as e:
            if not self._failing:
                log.warning("rtc: dropped a %s message the RTP wire cannot packetize: %s", msg, e)
                self._failing = True
            return b""
        self._failing = False
        return out

    def retransmit(self, ssrc: int, seq: int) -> bytes | None:
        """The plain RTP packet ``seq`` of the track ``ssrc`` if still cached (for a NACK), else None."""
        if ssrc == VIDEO_SSRC:
            return self.video.get(seq)
        if ssrc == AUDIO_SSRC:
            return self.audio.get(seq)
        return None

    # --- video

    def _video(self, msg: MediaMessage) -> bytes:
        want = _WANT[self.video_codec]
        ts = msg.timestamp * 90
        if msg.rtp is not None:
            if msg.codec and msg.codec != want:
                return b""
            carried = [p for p in msg.rtp if p]
            last = len(carried) - 1
            return self.video.packets([(p, i == last, ts) for i, p in enumerate(carried)])
        info = parse_video(msg.payload)
        if info.codec != want or want == VideoCodec.VP8:  # VP8 is only relayed (carried payloads)
            return b""
        data = msg.payload[info.data_offset :]
        if info.is_sequence_header:
            self._sequence_header(data)
            return b""
        if info.packet_type not in _CODED:
            return b""
        nalus = self._filter(split_avcc(data, self._avc_length))
        if not nalus:
            return b""
        packetize = payload_h264.packetize if want == VideoCodec.AVC else payload_h265.packetize
        pkts: list[PayloadPacket] = packetize(nalus, parameter_sets=self._params)
        return self.video.packets([(p.payload, p.marker, ts) for p in pkts])

    def _sequence_header(self, data: bytes) -> None:
        if self.video_codec == "h264":
            avc = h264.parse_avc_config(data)
            self._params = [*avc.sps, *avc.pps]
            self._avc_length = avc.length_size
            return
        hevc = h265.parse_hevc_config(data)
        self._params = [*hevc.vps, *hevc.sps, *hevc.pps]
        self._avc_length = hevc.length_size
        try:
            self._hevc_sps = h265.parse_sps(hevc.sps[0]) if hevc.sps else None
            self._hevc_pps = h265.parse_pps(hevc.pps[0]) if hevc.pps else None
        except SrsError:
            self._hevc_sps = self._hevc_pps = None  # B slices cannot be told apart: all are kept

    def _filter(self, nalus: list[bytes]) -> list[bytes]:
        """Drop AUD (and SEI unless ``keep_sei``); the whole frame when it has a B slice (unless
        ``keep_bframe``): RTC has no B-frames (SRS ``SrsRtcRtpBuilder::filter``)."""
        out: list[bytes] = []
        if self.video_codec == "h264":
            for n in nalus:
                if not n:
                    continue
                t = n[0] & 0x1F
                if t in _H264_DROP or (t == _H264_SEI and not self.keep_sei):
                    continue
                if not self.keep_bframe and h264.is_bframe(n):
                    return []
                out.append(n)
            return out
        sps, pps = self._hevc_sps, self._hevc_pps
        check_b = not self.keep_bframe and sps is not None and pps is not None
        for n in nalus:
            if len(n) < 2:
                continue
            t = (n[0] >> 1) & 0x3F
            if t in _H265_DROP or (t in _H265_SEI and not self.keep_sei):
                continue
            if check_b and h265.is_bframe(n, sps, pps):  # type: ignore[arg-type]
                return []
            out.append(n)
        return out

    # --- audio

    def _audio(self, msg: MediaMessage) -> bytes:
        if msg.rtp is not None:
            return self._relay_opus(msg.rtp, msg.timestamp)
        codec = msg.codec
        if codec == AudioCodec.OPUS:
            info = parse_audio(msg.payload)
            if info.is_sequence_header:
                return b""  # OpusHead
            return self._relay_opus((msg.payload[info.data_offset :],), msg.timestamp)
        if codec != AudioCodec.AAC and codec != AudioCodec.MP3:
            return b""
        if self._transcoder is None:
            self._transcoder = AacToOpus(self.opus_bitrate)
        pkts = self._transcoder.feed(msg.payload, msg.timestamp)
        return self.audio.packets([(p.data, False, p.timestamp) for p in pkts])

    def _relay_opus(self, packets: Sequence[bytes], timestamp_ms: int) -> bytes:
        """Opus packets as they came, on a running 48 kHz clock anchored to the message timestamp."""
        anchor = timestamp_ms * 48
        nxt = self._carried_next
        if nxt is None or abs(anchor - nxt) > REANCHOR_SAMPLES:
            nxt = anchor
        out: list[tuple[bytes, bool, int]] = []
        for p in packets:
            try:
                samples = packet_samples(p)
            except SrsError:
                continue  # an empty or invalid Opus packet is left out, the others go
            out.append((p, False, nxt))
            nxt += samples
        self._carried_next = nxt
        return self.audio.packets(out)
