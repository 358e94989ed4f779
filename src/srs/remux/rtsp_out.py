"""Media messages -> RTP for RTSP players: the wire every RTSP player of a stream shares.

SRS 7 feeds RTSP players from its RTC source (``SrsRtspSource``, the RTMP->RTC bridge), with AAC
kept as AAC: packets of ``MPEG4-GENERIC`` (RFC 3640 ``AAC-hbr``). :class:`RtspWire` is
:class:`~srs.remux.rtc_out.RtpWire` (the same H.264/H.265 packetizers, sequence counters and
sender-report clocks) with that audio: one access unit per packet (AU-headers-length 16, a 13-bit
size and 3-bit index), cut into fragments with the full size in each when over
:data:`AAC_FRAGMENT` bytes (marker on the last). The RTP clock of AAC is the sample rate
(timestamps are the message's milliseconds times the rate; SRS does the same from the RTMP time).

Where we differ from SRS: video RTP timestamps are the presentation time (DTS + composition time),
as RFC 6184 says, and B-frames are kept (players of RTSP decode them; SRS's sample conf sets
``rtc.keep_bframe on`` "for rtsp" for the same reason).
"""

from __future__ import annotations

from srs.codec import aac
from srs.format.flv import AudioCodec, parse_audio, parse_video
from srs.media.message import MediaMessage
from srs.protocol.rtsp.sdp import AUDIO_PT, VIDEO_PT
from srs.remux.rtc_out import AUDIO_SSRC, VIDEO_SSRC, RtpWire
from srs.util.errors import SrsError

AAC_FRAGMENT = 1400
__all__ = ["AUDIO_SSRC", "VIDEO_SSRC", "RtspWire", "aac_payloads"]


def aac_payloads(frame: bytes, limit: int = AAC_FRAGMENT) -> list[tuple[bytes, bool]]:
    """RFC 3640 AAC-hbr payloads of one raw AAC frame: ``(payload, marker)``."""
    size = len(frame) & 0x1FFF
    head = bytes((0x00, 0x10, (size >> 5) & 0xFF, (size & 0x1F) << 3))
    if len(frame) <= limit:
        return [(head + frame, True)]
    out = []
    for pos in range(0, len(frame), limit):
        chunk = frame[pos : pos + limit]
        out.append((head + chunk, pos + limit >= len(frame)))
    return out


class RtspWire(RtpWire):
    """RTSP players' wire: :class:`RtpWire`'s video, AAC as RFC 3640 (Opus relayed as it is)."""

    __slots__ = ("_rate",)

    def __init__(self, video_codec: str = "h264") -> None:
        super().__init__(video_codec, keep_bframe=True, keep_sei=True)
        self.key = ("rtsp", video_codec, True, True, 0, False)  # RtpWire's key shape
        self.video.pt = VIDEO_PT  # the payload types the DESCRIBE answer announces
        self.audio.pt = AUDIO_PT
        self._rate = 0  # AAC sample rate from the AudioSpecificConfig (0 until known)

    @property
    def audio_rate(self) -> int:
        return self._rate

    def _video(self, msg: MediaMessage) -> bytes:
        if msg.rtp is None and len(msg.payload) > 5:
            try:
                cts = parse_video(msg.payload).composition_time_ms
            except (SrsError, ValueError, IndexError):  # the parent reports bad payloads
                cts = 0
            if cts:
                msg = msg.with_timestamp(msg.timestamp + cts)
        return super()._video(msg)

    def _audio(self, msg: MediaMessage) -> bytes:
        info = parse_audio(msg.payload)
        if info.codec == AudioCodec.OPUS:
            return super()._audio(msg)
        if info.codec != AudioCodec.AAC:
            return b""
        data = msg.payload[info.data_offset :]
        if info.is_sequence_header:
            self._rate = aac.parse_asc(data).sample_rate
            return b""
        if not self._rate or not data:
            return b""
        ts = msg.timestamp * self._rate // 1000
        return self.audio.packets([(p, m, ts) for p, m in aac_payloads(data)])
