"""A WebRTC player (WHEP, whip-play, legacy ``/rtc/v1/play/``): a consumer of the live Source.

The player's wire is :class:`srs.remux.rtc_out.RtpWire`: each message becomes plain RTP packets
once per stream (re-packetized from RTMP/SRT, AAC transcoded to Opus once, or a WebRTC publisher's
payloads as they came) and every player gets the same bytes. Per player there is only what must
differ: the payload types the player's offer chose (byte 1 rewritten), SRTP with its own keys, and
its address. NACKs are answered from the wire's retransmission cache; PLI/FIR are passed to a
WebRTC publisher (an RTMP publisher's keyframes come by themselves).

SRS keeps an RTC play session when the publisher leaves (it waits for a republish while the
browser keeps its consent fresh); so do we.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from srs.media.consumer import Consumer, NotYet
from srs.media.message import MediaMessage, WireFormat
from srs.protocol.rtc import rtcp
from srs.protocol.rtc.negotiate import PlayTrack
from srs.remux.rtc_out import AUDIO_PT, AUDIO_SSRC, VIDEO_PT, VIDEO_SSRC, RtpWire
from srs.server.progress import WRITE_HIGH_WATER
from srs.server.rtc.session import RtcSession, ntp_now
from srs.util.errors import ErrorCode, SrsError

if TYPE_CHECKING:
    from srs.media.source import Source

log = logging.getLogger("srs")


def play_tracks() -> list[PlayTrack]:
    """The tracks a play answer announces (the wire's fixed SSRCs)."""
    return [PlayTrack("audio", AUDIO_SSRC, "audio-0"), PlayTrack("video", VIDEO_SSRC, "video-0")]


def _pt_table(video_pt: int | None, audio_pt: int | None) -> bytes | None:
    """Byte 1 of a wire packet (marker + placeholder PT) -> this player's; None when equal."""
    if (video_pt is None or video_pt == VIDEO_PT) and (audio_pt is None or audio_pt == AUDIO_PT):
        return None
    table = bytearray(range(256))
    for placeholder, pt in ((VIDEO_PT, video_pt), (AUDIO_PT, audio_pt)):
        if pt is not None:
            table[placeholder] = pt
            table[placeholder | 0x80] = pt | 0x80
    return bytes(table)


class RtcPlaySink:
    """The consumer side of a :class:`RtcPlayer`."""

    __slots__ = ("player", "sent")
    realtime = True  # SRS: RTC consumers are realtime (every message flushed at once)

    def __init__(self, player: RtcPlayer) -> None:
        self.player = player
        self.sent = 0

    def choose_wire(self, first: Sequence[MediaMessage]) -> WireFormat | NotYet | None:
        p = self.player
        rtc = p.vhost.rtc
        return RtpWire(
            p.video_codec,
            keep_bframe=rtc.keep_bframe,
            keep_sei=rtc.keep_avc_nalu_sei,
            opus_bitrate=rtc.opus_bitrate,
            relay_only=not rtc.rtmp_to_rtc,  # SRS: without the bridge, RTMP/SRT media never reaches RTC
        )

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        p = self.player
        path, srtp = p.path, p.srtp
        if path is None or srtp is None or p.closed:
            return False
        protect = srtp.protect_rtp
        send = path.send
        table = p.pt_table
        sent = 0
        for buf in bufs:
            pos = 0
            n = len(buf)
            while pos < n:
                size = (buf[pos] << 8) | buf[pos + 1]
                end = pos + 2 + size
                if table is None:
                    pkt = buf[pos + 2 : end]
                else:
                    b = bytearray(buf[pos + 2 : end])
                    b[1] = table[b[1]]
                    pkt = bytes(b)
                pos = end
                out = protect(pkt)
                sent += len(out)
                send(out)
        p.send_bytes += sent
        self.sent += sent
        return p.backlog() < WRITE_HIGH_WATER

    def writable(self) -> bool:
        p = self.player
        return p.connected and not p.closed and p.backlog() < WRITE_HIGH_WATER

    def on_unpublish(self) -> None:
        pass  # SRS: the session stays and plays a republished stream

    def on_limit_reached(self) -> None:
        pass


class RtcPlayer(RtcSession):
    kind = "rtc-play"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.consumer: Consumer | None = None
        self.source: Source | None = None
        video_pt = audio_pt = None
        self.video_codec = "h264"
        for m in self.negotiated.accepted:
            assert m.codec is not None
            if m.kind == "video":
                video_pt = m.codec.pt
                self.video_codec = "h265" if m.codec.name.upper() == "H265" else m.codec.name.lower()
            elif m.kind == "audio":
                audio_pt = m.codec.pt
        self.pt_table = _pt_table(video_pt, audio_pt)
        self.nacks = 0
        self.retransmitted = 0

    def prepare(self) -> None:
        """SRS: with ``rtmp_to_rtc off`` a live stream from RTMP (or SRT) cannot be played."""
        from srs.server.rtc.publish import RtcPublisher

        if self.video_codec not in ("h264", "h265", "vp8"):
            raise SrsError(f"play of {self.video_codec} is not supported", ErrorCode.RTC_SDP_EXCHANGE)
        src = self.server.ctx.registry.find(self.request.stream_url)
        if (
            src is not None
            and src.publishing
            and not isinstance(src.publisher, RtcPublisher)
            and not self.vhost.rtc.rtmp_to_rtc
        ):
            raise SrsError(
                f"stream {self.request.stream_url} is not RTC and rtmp_to_rtc is off",
                ErrorCode.RTC_SDP_EXCHANGE,
            )

    def start(self) -> None:
        ctx = self.server.ctx
        vhost = ctx.config.vhost(self.vhost.name) or self.vhost
        src = ctx.registry.fetch_or_create(self.request.stream_url, vhost.name)
        self.source = src
        self.consumer = src.create_consumer(RtcPlaySink(self))
        self.request_keyframe()

    def on_final_flight_lost(self) -> None:
        """The media sent since DTLS completed could not be decrypted: start again from the GOP
        cache (an RTMP source's next keyframe may be seconds away)."""
        src, old = self.source, self.consumer
        if src is None or old is None or self.closed:
            return
        log.info("RTC play %s: the peer missed our last DTLS flight; the GOP cache is sent again", self.cid)
        old.close()
        self.consumer = src.create_consumer(RtcPlaySink(self))
        self.request_keyframe()

    def backlog(self) -> int:
        path = self.path
        return path.backlog() if path is not None else 0

    def request_keyframe(self) -> None:
        from srs.server.rtc.publish import RtcPublisher

        src = self.source
        if src is not None and isinstance(src.publisher, RtcPublisher):
            src.publisher.request_keyframe()

    def tick(self, now_ms: int) -> None:
        """Every second: a sender report per track, so the browser can line audio up with video
        (the RTP timestamp of the newest packet against now: at most a frame's time off)."""
        c = self.consumer
        wire = c.wire if c is not None else None
        if not self.connected or not isinstance(wire, RtpWire):
            return
        ntp = ntp_now()
        sent = self.send_bytes
        reports: list[rtcp.RtcpPacket] = [
            rtcp.RtcpSr(t.ssrc, ntp, t.last_ts, 0, sent)
            for t in (wire.video, wire.audio)
            if t.last_ts is not None
        ]
        if reports:
            self.send_rtcp(reports)

    def on_rtcp(self, packets: list[rtcp.RtcpPacket]) -> None:
        for p in packets:
            if isinstance(p, rtcp.RtcpNack):
                self._resend(p.media_ssrc, p.lost)
            elif isinstance(p, rtcp.RtcpPli | rtcp.RtcpFir):
                self.request_keyframe()

    def _resend(self, ssrc: int, lost: Sequence[int]) -> None:
        self.nacks += len(lost)
        c = self.consumer
        wire = c.wire if c is not None else None
        path, srtp = self.path, self.srtp
        if not isinstance(wire, RtpWire) or path is None or srtp is None or not self.vhost.rtc.nack:
            return
        for seq in lost:
            pkt = wire.retransmit(ssrc, seq)
            if pkt is None:
                continue
            if self.pt_table is not None:
                b = bytearray(pkt)
                b[1] = self.pt_table[b[1]]
                pkt = bytes(b)
            out = srtp.protect_rtp(pkt)
            self.send_bytes += len(out)
            self.retransmitted += 1
            path.send(out)

    def stop(self, reason: str) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        if self.client is not None:
            self.server.ctx.policy.on_stop(self.client)
        log.info(
            "RTC play stop url=%s (%s) nacked=%d resent=%d",
            self.request.stream_url,
            reason,
            self.nacks,
            self.retransmitted,
        )
