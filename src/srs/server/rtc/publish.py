"""A WebRTC publisher (WHIP, legacy ``/rtc/v1/publish/``): RTP in, the live Source's messages out.

:class:`srs.remux.rtc_in.RtcIngest` turns RTP into MediaMessages (frames reassembled, audio through
a reorder buffer, Opus -> AAC with ``rtc_to_rtmp``, A/V aligned by the sender reports); each
message also carries its RTP payloads so WebRTC players get them untouched. Toward the publisher
the session sends NACKs for what is missing, PLI when a keyframe is needed (after a loss, when a
player asks, and every ``pli_for_rtmp`` seconds when bridging to RTMP, as SRS), and transport-wide
congestion control feedback every 100 ms so the browser keeps its bitrate up.

As SRS, the stream is acquired when the offer is answered (a second publisher is refused then), and
the outputs (HLS, DVR, ...) start only with ``rtc_to_rtmp on``.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from srs.media.message import MediaMessage
from srs.protocol.rtc import rtcp
from srs.protocol.rtc.rtp import RtpPacket, SeqUnwrapper, transport_cc_seq
from srs.protocol.rtc.twcc import build_twcc
from srs.remux.rtc_in import RtcIngest
from srs.server.rtc.session import RtcSession

if TYPE_CHECKING:
    from srs.media.source import Source

log = logging.getLogger("srs")

TWCC_EVERY_MS = 100
RR_EVERY_MS = 1000
PLI_MIN_INTERVAL_MS = 500  # ours: at most two keyframe requests a second, whoever asks


class _Received:
    """RFC 3550 A.3 receiver statistics of one publisher SSRC (for the receiver reports)."""

    __slots__ = (
        "base",
        "expected_prior",
        "highest",
        "lsr",
        "lsr_at_ms",
        "received",
        "received_prior",
        "unwrap",
    )

    def __init__(self) -> None:
        self.unwrap = SeqUnwrapper()
        self.base: int | None = None
        self.highest = 0
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.lsr = 0  # middle 32 bits of the last SR's NTP time
        self.lsr_at_ms = 0

    def on_packet(self, seq: int) -> None:
        ext = self.unwrap.unwrap(seq)
        if self.base is None:
            self.base = self.highest = ext
        elif ext > self.highest:
            self.highest = ext
        self.received += 1

    def block(self, ssrc: int, now_ms: int) -> rtcp.ReportBlock:
        base = self.base or 0
        expected = self.highest - base + 1
        lost = expected - self.received
        interval_expected = expected - self.expected_prior
        interval_lost = interval_expected - (self.received - self.received_prior)
        self.expected_prior, self.received_prior = expected, self.received
        fraction = (
            (interval_lost << 8) // interval_expected if interval_expected > 0 and interval_lost > 0 else 0
        )
        dlsr = ((now_ms - self.lsr_at_ms) * 65536 // 1000) if self.lsr else 0
        return rtcp.ReportBlock(ssrc, min(fraction, 255), lost, self.highest & 0xFFFFFFFF, 0, self.lsr, dlsr)


class RtcPublisher(RtcSession):
    kind = "rtc-publish"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.source: Source | None = None
        self.publishing = False
        self.our_ssrc = secrets.randbits(32) or 1
        self.kind_by_ssrc: dict[int, str] = {}
        self.kind_by_pt: dict[int, str] = {}
        self.media_ssrc: dict[str, int] = {}
        self.twcc_id: int | None = None
        video_codec: str | None = None
        has_audio = False
        for m in self.negotiated.accepted:
            assert m.codec is not None
            self.kind_by_pt[m.codec.pt] = m.kind
            for s in m.remote_ssrcs:
                self.kind_by_ssrc[s] = m.kind
            if m.twcc_id is not None and self.vhost.rtc.twcc:
                self.twcc_id = m.twcc_id
            if m.kind == "video":
                video_codec = "h265" if m.codec.name.upper() == "H265" else m.codec.name.lower()
            else:
                has_audio = True
        rtc = self.vhost.rtc
        self.ingest = RtcIngest(
            video_codec, has_audio, rtc_to_rtmp=rtc.rtc_to_rtmp, aac_bitrate=rtc.aac_bitrate
        )
        self.received: dict[int, _Received] = {}
        self._last_rr_ms = 0
        self.arrivals: dict[int, int | None] = {}
        self.twcc_count = 0
        self._last_twcc_ms = 0
        self._last_pli_ms = -PLI_MIN_INTERVAL_MS
        self._last_periodic_pli_ms = 0
        self._want_pli = False
        self.messages = 0
        self.nacks_sent = 0
        self.plis_sent = 0

    def prepare(self) -> None:
        """Acquire the stream (SRS refuses a second publisher when the offer is answered)."""
        ctx = self.server.ctx
        src = ctx.registry.fetch_or_create(self.request.stream_url, self.vhost.name)
        src.publish(self)  # StreamBusyError (1028) when taken
        self.source = src
        self.publishing = True
        if self.client is not None:
            ctx.policy.on_stream_publish(self.client, src)
        if self.vhost.rtc.rtc_to_rtmp:
            ctx.publishing(src, self.vhost, self.request)

    def start(self) -> None:
        self.server.fast.add(self)
        self._want_pli = True

    def request_keyframe(self) -> None:
        self._want_pli = True

    # ------------------------------------------------------------------ in

    def _kind(self, ssrc: int, pt: int) -> str | None:
        k = self.kind_by_ssrc.get(ssrc)
        if k is None:
            k = self.kind_by_pt.get(pt)
            if k is not None:
                self.kind_by_ssrc[ssrc] = k
        return k

    def on_rtp(self, packet: bytes) -> None:
        pkt = RtpPacket.parse(packet)
        kind = self._kind(pkt.ssrc, pkt.payload_type)
        if kind is None or pkt.payload_type not in self.kind_by_pt:
            return  # RTX, FEC or a payload type we did not answer: ignored
        self.media_ssrc.setdefault(kind, pkt.ssrc)
        stats = self.received.get(pkt.ssrc)
        if stats is None:
            stats = self.received[pkt.ssrc] = _Received()
        stats.on_packet(pkt.sequence_number)
        now_ms = self.server.now_ms()
        if self.twcc_id is not None:
            ext = pkt.get_extension(self.twcc_id)
            if ext:
                self.arrivals[transport_cc_seq(ext)] = now_ms * 1000
        self._feed(self.ingest.on_rtp(kind, pkt, now_ms))

    def on_rtcp(self, packets: list[rtcp.RtcpPacket]) -> None:
        for p in packets:
            if isinstance(p, rtcp.RtcpSr):
                stats = self.received.get(p.ssrc)
                if stats is not None:
                    stats.lsr = (p.ntp_timestamp >> 16) & 0xFFFFFFFF
                    stats.lsr_at_ms = self.server.now_ms()
                kind = self.kind_by_ssrc.get(p.ssrc)
                if kind is not None:
                    self.ingest.on_sender_report(kind, p.ntp_timestamp, p.rtp_timestamp)

    def _feed(self, msgs: list[MediaMessage]) -> None:
        src = self.source
        if not msgs or src is None or not self.publishing:
            return
        for m in msgs:
            src.on_message(m)
        self.messages += len(msgs)

    # ------------------------------------------------------------------ out

    def tick(self, now_ms: int) -> None:
        if not self.connected:
            return
        ing = self.ingest
        self._feed(ing.poll(now_ms))
        out: list[rtcp.RtcpPacket] = []
        for kind, ssrc in self.media_ssrc.items():
            if not self.vhost.rtc.nack:
                break
            lost = ing.nack_list(kind, now_ms)
            if lost:
                self.nacks_sent += len(lost)
                out.append(rtcp.RtcpNack.from_lost(self.our_ssrc, ssrc, lost))
        if ing.take_keyframe_request():
            self._want_pli = True
        pli_every = int(self.vhost.rtc.pli_for_rtmp_s * 1000)
        if self.vhost.rtc.rtc_to_rtmp and pli_every > 0 and now_ms - self._last_periodic_pli_ms >= pli_every:
            self._last_periodic_pli_ms = now_ms
            self._want_pli = True
        video = self.media_ssrc.get("video")
        if self._want_pli and video is not None and now_ms - self._last_pli_ms >= PLI_MIN_INTERVAL_MS:
            self._want_pli = False
            self._last_pli_ms = now_ms
            self.plis_sent += 1
            out.append(rtcp.RtcpPli(self.our_ssrc, video))
        if self.arrivals and now_ms - self._last_twcc_ms >= TWCC_EVERY_MS:
            self._last_twcc_ms = now_ms
            media = video if video is not None else next(iter(self.media_ssrc.values()), 0)
            for fb in build_twcc(self.arrivals, fb_pkt_count=self.twcc_count):
                self.twcc_count = (self.twcc_count + 1) & 0xFF
                out.append(rtcp.RtcpTwcc.build(self.our_ssrc, media, fb))
            self.arrivals = {}
        if self.received and now_ms - self._last_rr_ms >= RR_EVERY_MS:
            self._last_rr_ms = now_ms
            blocks = [st.block(ssrc, now_ms) for ssrc, st in list(self.received.items())[:31]]
            out.insert(0, rtcp.RtcpRr(self.our_ssrc, blocks))  # a compound starts with its report
        if out:
            self.send_rtcp(out)

    # ------------------------------------------------------------------ end

    def stop(self, reason: str) -> None:
        src = self.source
        if src is None or not self.publishing:
            return
        try:
            self._feed(self.ingest.flush())
        finally:
            self.publishing = False
            self.source = None
            src.unpublish(self)
            log.info(
                "RTC unpublish url=%s (%s) messages=%d nacks=%d plis=%d",
                src.url,
                reason,
                self.messages,
                self.nacks_sent,
                self.plis_sent,
            )
            if self.client is not None:
                self.server.ctx.policy.on_stream_close(self.client, src)
                self.server.ctx.policy.on_unpublish(self.client)
