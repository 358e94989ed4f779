"""An RTSP publisher (ours; SRS 7's RTSP server plays only): ANNOUNCE, SETUP ``mode=record``, RECORD.

The SDP of the ANNOUNCE names the tracks (:func:`srs.protocol.rtsp.sdp.parse_announce`): H.264 or
H.265 video, AAC (``MPEG4-GENERIC``) or Opus audio. SETUP binds a track to interleaved channels on
the connection or to the client's UDP ports (its packets come to the server's shared RTP/RTCP pair
and are told apart by their source address). RECORD acquires the stream as an RTMP publisher does
(``on_publish`` hook first, 1028 busy answered 406 here, then the vhost's outputs), and
:class:`srs.remux.rtsp_in.RtspIngest` turns the RTP into messages; RTCP sender reports align A/V.
The stream is released at TEARDOWN or when the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from srs.media.message import MediaMessage
from srs.protocol.rtc import rtcp
from srs.protocol.rtc.rtp import RtpPacket, is_rtcp
from srs.protocol.rtsp.message import RtspMessage, parse_transport, serialize_response
from srs.protocol.rtsp.sdp import AnnouncedTrack, parse_announce
from srs.remux.rtsp_in import DecodeTimes, RtspIngest, plain
from srs.util.errors import SrsError, StreamBusyError

if TYPE_CHECKING:
    from srs.media.source import Source
    from srs.server.rtsp import RtspConnection

log = logging.getLogger("srs")

POLL_S = 0.02


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


class RtspPublish:
    """The publishing side of one RTSP connection."""

    def __init__(self, conn: RtspConnection, tracks: list[AnnouncedTrack]) -> None:
        self.conn = conn
        self.tracks = tracks
        self.channels: dict[int, tuple[str, bool]] = {}  # interleaved channel -> (kind, is RTCP)
        self.udp: dict[tuple[str, int], tuple[str, bool]] = {}  # client address -> (kind, is RTCP)
        self.source: Source | None = None
        self.ingest: RtspIngest | None = None
        self.times = DecodeTimes()
        self.messages = 0
        self._task: asyncio.Task[None] | None = None

    def track_of(self, uri: str) -> int | None:
        target = uri.split("?", 1)[0].rstrip("/")
        for i, t in enumerate(self.tracks):
            c = t.control.rstrip("/")
            if c and (target == c or target.endswith("/" + c)):
                return i
        return None

    def setup(self, m: RtspMessage, headers: dict[str, str]) -> bytes:
        index = self.track_of(m.uri)
        if index is None:
            return serialize_response(404 if len(self.tracks) > 1 else 459, m.cseq, headers)
        specs = parse_transport(m.headers.get("transport", ""))
        if not specs:
            return serialize_response(461, m.cseq, headers)
        spec = specs[0]
        kind = self.tracks[index].kind
        server = self.conn.server
        if spec.tcp:
            ch = spec.interleaved or (2 * index, 2 * index + 1)
            self.channels[ch[0]] = (kind, False)
            self.channels[ch[1]] = (kind, True)
            headers["Transport"] = f"RTP/AVP/TCP;unicast;interleaved={ch[0]}-{ch[1]};mode=record"
        else:
            if spec.client_port is None or server.udp_rtp is None:
                return serialize_response(461, m.cseq, headers)
            lo, hi = spec.client_port
            ip = self.conn.ip
            self.udp[(ip, lo)] = (kind, False)
            self.udp[(ip, hi)] = (kind, True)
            server.by_udp[(ip, lo)] = self.conn
            server.by_udp[(ip, hi)] = self.conn
            sp = server.udp_port
            headers["Transport"] = (
                f"RTP/AVP;unicast;client_port={lo}-{hi};server_port={sp}-{sp + 1};mode=record"
            )
        return serialize_response(200, m.cseq, headers)

    def record(self, m: RtspMessage, headers: dict[str, str]) -> bytes:
        conn = self.conn
        ctx = conn.ctx
        req, vhost = conn.request, conn.vhost
        if req is None or vhost is None or (not self.channels and not self.udp):
            return serialize_response(455, m.cseq, headers)
        if self.source is not None:
            return serialize_response(200, m.cseq, headers)
        src = ctx.registry.fetch_or_create(req.stream_url, vhost.name)
        try:
            src.publish(self)
        except StreamBusyError as e:
            log.warning("RTSP publish %s refused: %s", req.stream_url, e)
            return serialize_response(406, m.cseq, headers)
        self.source = src
        video = next((t for t in self.tracks if t.kind == "video"), None)
        audio = next((t for t in self.tracks if t.kind == "audio"), None)
        self.ingest = RtspIngest(video, audio)
        if conn.client is not None:
            ctx.policy.on_stream_publish(conn.client, src)
        ctx.publishing(src, vhost, req)
        self._task = asyncio.get_running_loop().create_task(self._poll())
        log.info("RTSP publish ip=%s url=%s tracks=%d", conn.ip, req.stream_url, len(self.tracks))
        return serialize_response(200, m.cseq, headers)

    # --- media in

    def on_packet(self, kind: str, rtcp_channel: bool, data: bytes) -> None:
        ing = self.ingest
        if ing is None:
            return
        try:
            if rtcp_channel or is_rtcp(data):
                for p in rtcp.parse_compound(data):
                    if isinstance(p, rtcp.RtcpSr):
                        ing.on_sender_report(kind, p.ntp_timestamp, p.rtp_timestamp)
                return
            pkt = RtpPacket.parse(data)
        except SrsError:
            return
        self._feed(ing.on_rtp(kind, pkt, _now_ms()))

    def on_interleaved(self, channel: int, data: bytes) -> None:
        found = self.channels.get(channel)
        if found is not None:
            self.on_packet(found[0], found[1], data)

    def on_udp(self, addr: tuple[str, int], data: bytes) -> None:
        found = self.udp.get(addr)
        if found is not None:
            self.on_packet(found[0], found[1], data)

    def _feed(self, msgs: list[MediaMessage]) -> None:
        src = self.source
        if src is None or not msgs:
            return
        for m in self.times.push(plain(msgs)):
            src.on_message(m)
        self.messages += len(msgs)

    async def _poll(self) -> None:
        while self.ingest is not None:
            await asyncio.sleep(POLL_S)
            if self.ingest is not None:
                self._feed(self.ingest.poll(_now_ms()))

    # --- end

    def stop(self, reason: str) -> None:
        for addr in self.udp:
            self.conn.server.by_udp.pop(addr, None)
        src, ing = self.source, self.ingest
        if self._task is not None:
            self._task.cancel()
        if src is None or ing is None:
            return
        try:
            self._feed(ing.flush())
            for m in self.times.flush():
                src.on_message(m)
        finally:
            self.source = None
            self.ingest = None
            src.unpublish(self)
            log.info("RTSP unpublish url=%s (%s) messages=%d", src.url, reason, self.messages)
            client = self.conn.client
            if client is not None:
                self.conn.ctx.policy.on_stream_close(client, src)
                self.conn.ctx.policy.on_unpublish(client)


def announce_tracks(m: RtspMessage) -> list[AnnouncedTrack]:
    """The usable tracks of an ANNOUNCE body (one video, one audio at most)."""
    try:
        text = m.body.decode("utf-8", "replace")
    except ValueError:
        return []
    out: list[AnnouncedTrack] = []
    kinds: set[str] = set()
    for t in parse_announce(text):
        ok = (t.kind == "video" and t.codec in ("H264", "H265")) or (
            t.kind == "audio" and t.codec in ("MPEG4-GENERIC", "OPUS")
        )
        if ok and t.kind not in kinds:
            kinds.add(t.kind)
            out.append(t)
    return out
