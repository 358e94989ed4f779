"""The RTSP server (SRS 7.0.47+ ``rtsp_server``): RTSP/1.0 players of the live streams.

A connection reads RTSP requests (:mod:`srs.protocol.rtsp.message`) and answers them as SRS's
``SrsRtspConnection``: OPTIONS; DESCRIBE builds the SDP from the source's sequence headers (audio
``trackID=0`` first, then video; 404 when the stream has no track yet, 401 when ``on_play`` refuses,
403 for ``security``); SETUP binds a track to ``RTP/AVP/TCP;interleaved=`` channels; PLAY attaches a
consumer whose wire (:class:`srs.remux.rtsp_out.RtspWire`) is shared by every RTSP player of the
stream; TEARDOWN (or the connection closing) stops it. Sender reports go out every second per track.

Where we differ from SRS: SETUP also takes ``RTP/AVP;unicast;client_port=a-b`` (SRS answers 461):
the server's two UDP sockets (RTP on an even port, RTCP on the next) are shared by every session and
answered as ``server_port``. A connection with UDP media (or none yet) ends when neither RTSP
requests nor RTCP/RTP from the client came for :data:`SESSION_TIMEOUT_S` (60 s, the ``timeout`` of our
``Session`` header); with all its media interleaved, the TCP connection itself says when it is
gone. PAUSE stops sending (live media meanwhile is dropped), GET_PARAMETER/SET_PARAMETER answer 200 (keep-alive), a request naming
another session answers 454, PLAY before SETUP 455, SETUP of the aggregate URL 459. Publishing
(ANNOUNCE/RECORD, :mod:`srs.server.rtsp_publish`) is ours: SRS 7 plays only; so are credentials
(``rtsp_server.auth``, :mod:`srs.server.rtsp_auth`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from srs.config.schema_vhost import VhostConfig
from srs.media.consumer import Consumer, NotYet
from srs.media.message import MediaMessage, WireFormat
from srs.protocol.request import Request, parse_rtmp, unsafe_name
from srs.protocol.rtc import rtcp
from srs.protocol.rtsp.auth import without_userinfo
from srs.protocol.rtsp.message import (
    Interleaved,
    RtspError,
    RtspMessage,
    RtspParser,
    Transport,
    interleave,
    parse_transport,
    serialize_response,
)
from srs.protocol.rtsp.sdp import AUDIO_PT, VIDEO_PT, Track, audio_track, describe, video_track
from srs.protocol.rtsp.session import METHODS, RtspSession
from srs.remux.rtsp_out import RtspWire
from srs.server.context import ServerContext
from srs.server.policy import Client
from srs.server.progress import WRITE_HIGH_WATER
from srs.server.rtc.session import ntp_now
from srs.server.rtsp_auth import auth_gate, new_auth, with_user
from srs.server.rtsp_publish import RtspPublish, announce_tracks
from srs.util.errors import SrsError
from srs.util.log import context_id

log = logging.getLogger("srs")

SESSION_TIMEOUT_S = 60.0
HEADER_WAIT_S = 2.0  # DESCRIBE of a stream being published waits this long for its sequence headers
_READ = 64 * 1024


def split_target(uri: str) -> tuple[str, int | None]:
    """``rtsp://h/live/x/trackID=1`` -> (``rtsp://h/live/x``, 1); the aggregate URL -> (uri, None)."""
    base, _, query = uri.partition("?")
    head, slash, last = base.rstrip("/").rpartition("/")
    if slash and last.lower().startswith("trackid="):
        n = last[8:]
        return head + ("?" + query if query else ""), int(n) if n.isascii() and n.isdigit() and len(
            n
        ) < 4 else -1
    return uri, None


def request_of(uri: str, ip: str) -> Request:
    """SRS ``srs_net_url_parse_rtmp_url``: the last path element is the stream, the rest the tcUrl."""
    base, _, query = without_userinfo(uri).partition("?")  # no password in tcUrl/hooks/logs
    tc_url, _, stream = base.rstrip("/").rpartition("/")
    return parse_rtmp(tc_url, stream + ("?" + query if query else ""), ip=ip)


@dataclass(slots=True)
class _Setup:
    track: Track
    channel: int | None  # TCP interleaved RTP channel (RTCP on channel + 1)
    udp: tuple[str, int, int] | None  # client's (ip, rtp port, rtcp port)


class RtspSink:
    """The consumer side of an RTSP player: the shared RTP packets, framed for this player."""

    __slots__ = ("conn", "sent")

    def __init__(self, conn: RtspConnection) -> None:
        self.conn = conn
        self.sent = 0

    def choose_wire(self, first: Sequence[MediaMessage]) -> WireFormat | NotYet | None:
        return RtspWire(self.conn.video_codec)

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        c = self.conn
        if c.closed or c.paused:
            return not c.closed
        by_pt = c.by_pt
        tcp_out: list[bytes] = []
        udp = c.server.udp_rtp
        sent = 0
        for buf in bufs:
            pos, n = 0, len(buf)
            while pos + 2 <= n:
                size = (buf[pos] << 8) | buf[pos + 1]
                end = pos + 2 + size
                pkt = buf[pos + 2 : end]
                pos = end
                if size < 12:
                    continue
                s = by_pt.get(pkt[1] & 0x7F)
                if s is None:
                    continue
                if s.channel is not None:
                    tcp_out.append(bytes((0x24, s.channel, size >> 8, size & 0xFF)))
                    tcp_out.append(pkt)
                    sent += size + 4
                elif s.udp is not None and udp is not None:
                    udp.sendto(pkt, (s.udp[0], s.udp[1]))
                    sent += size
        if tcp_out:
            c.transport.writelines(tcp_out)
        self.sent += sent
        c.send_bytes += sent
        return c.transport.get_write_buffer_size() < WRITE_HIGH_WATER

    def writable(self) -> bool:
        c = self.conn
        return not c.closed and c.transport.get_write_buffer_size() < WRITE_HIGH_WATER

    def on_unpublish(self) -> None:
        self.conn.close("unpublished")

    def on_limit_reached(self) -> None:
        pass


class _UdpIn(asyncio.DatagramProtocol):
    """RTCP (or anything) from UDP clients: keeps their sessions alive."""

    def __init__(self, server: RtspServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        key = (str(addr[0]), int(addr[1]))
        conn = self.server.by_udp.get(key)
        if conn is not None:
            if conn.publish is not None:
                conn.publish.on_udp(key, data)
            conn.last_seen = asyncio.get_running_loop().time()
            conn.recv_bytes += len(data)


class RtspConnection(asyncio.Protocol):
    """One RTSP client connection (a player), in the server's connection table."""

    def __init__(self, server: RtspServer) -> None:
        self.server = server
        self.ctx = server.ctx
        self.cid = self.ctx.new_cid()
        self.ip = ""
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = RtspParser()
        self.rtsp = RtspSession(timeout_s=max(1, int(SESSION_TIMEOUT_S)))
        self.auth = new_auth(server.auth_cfg)  # rtsp_server.auth (ours): None when off
        self.tracks: list[Track] = []
        self.setups: dict[int, _Setup] = {}
        self.by_pt: dict[int, _Setup] = {}
        self.request: Request | None = None
        self.vhost: VhostConfig | None = None
        self.publish: RtspPublish | None = None
        self.client: Client | None = None
        self.consumer: Consumer | None = None
        self.video_codec = "h264"
        self.paused = False
        self.closed = False
        self.send_bytes = 0
        self.recv_bytes = 0
        self.last_seen = 0.0
        self._queue: asyncio.Queue[RtspMessage | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._registered = False
        self._played = False

    @property
    def kind(self) -> str:
        return "rtsp-publish" if self.publish is not None else "rtsp-play"

    # --- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        peer = transport.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else ""
        self.last_seen = asyncio.get_running_loop().time()
        if not self.ctx.admit(self):
            log.warning("drop RTSP client ip=%s: exceed max_connections", self.ip)
            transport.close()
            self.closed = True
            self.server.conns.discard(self)
            return
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        self.recv_bytes += len(data)
        self.last_seen = asyncio.get_running_loop().time()
        try:
            items = self.parser.feed(data)
        except RtspError as e:
            log.warning("RTSP client ip=%s closed: %s", self.ip, e)
            self.close("bad request")
            return
        for it in items:
            if isinstance(it, Interleaved):
                if self.publish is not None:
                    self.publish.on_interleaved(it.channel, it.data)
                continue  # RTCP receiver reports of a TCP player only keep it alive
            self._queue.put_nowait(it)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close("client closed")

    # --- connection table

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.put_nowait(None)
        if self.transport is not None:
            self.transport.close()
        self._stop(reason)
        self.ctx.forget(self)
        self.server.conns.discard(self)

    def _stop(self, reason: str) -> None:
        if self.publish is not None:
            self.publish.stop(reason)
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
            log.info(
                "RTSP play stop url=%s (%s) sent=%d",
                self.request and self.request.stream_url,
                reason,
                self.send_bytes,
            )
            if self.client is not None:
                self.ctx.policy.on_stop(self.client)
        for s in self.setups.values():
            if s.udp is not None:
                self.server.by_udp.pop((s.udp[0], s.udp[2]), None)
                self.server.by_udp.pop((s.udp[0], s.udp[1]), None)
        self.setups.clear()
        self.by_pt.clear()
        self.paused = False
        if self._registered and self.client is not None:
            self._registered = False
            self.ctx.policy.on_disconnect(self.client, False)

    # --- requests

    async def _serve(self) -> None:
        context_id.set(self.cid)
        loop = asyncio.get_running_loop()
        while not self.closed:
            try:
                msg = await asyncio.wait_for(self._queue.get(), timeout=min(5.0, SESSION_TIMEOUT_S / 2))
            except TimeoutError:
                if self._tcp_media():
                    continue  # the TCP connection tells whether the peer is there
                if loop.time() - self.last_seen > SESSION_TIMEOUT_S:
                    log.warning("RTSP client ip=%s closed: session timeout", self.ip)
                    self.close("session timeout")
                continue
            if msg is None:
                return
            if not msg.is_request:
                continue
            try:
                out = await self._handle(msg)
            except Exception:
                log.exception("RTSP %s failed", msg.method)
                out = serialize_response(500, msg.cseq)
            if not self.closed:
                self.transport.write(out)  # after TEARDOWN too: the client closes (as SRS)

    def _tcp_media(self) -> bool:
        """Playing or publishing with every track interleaved on the connection."""
        if self.publish is not None and self.publish.source is not None:
            return not self.publish.udp
        if self.consumer is not None:
            return all(s.channel is not None for s in self.setups.values())
        return False

    def _session_headers(self) -> dict[str, str]:
        return self.rtsp.headers()

    async def _handle(self, m: RtspMessage) -> bytes:
        """Order and session checks by the sans-IO :class:`RtspSession`, then the request itself."""
        cseq, method, rtsp = m.cseq, m.method, self.rtsp
        refused = auth_gate(self, m)  # rtsp_server.auth: 401 without valid credentials
        if refused is not None:
            return refused
        track = self.publish.track_of(m.uri) if self.publish is not None else split_target(m.uri)[1]
        status = rtsp.check(m, track)
        if status is not None:
            extra = {"Public": METHODS} if method == "OPTIONS" else self._session_headers()
            return serialize_response(status, cseq, extra)
        if method == "DESCRIBE":
            out = await self._describe(m)
        elif method == "ANNOUNCE":
            out = await self._announce(m)
        elif method == "SETUP":
            out = self.publish.setup(m, self._session_headers()) if self.publish else self._setup(m)
        elif method == "PLAY":
            out = self._play(m)
        elif method == "RECORD":
            assert self.publish is not None  # the session is in record mode
            out = self.publish.record(m, self._session_headers())
        elif method == "PAUSE":
            self.paused = True
            out = serialize_response(200, cseq, self._session_headers())
        else:  # TEARDOWN
            self._stop("teardown")
            out = serialize_response(200, cseq, self._session_headers())
        if out.startswith(b"RTSP/1.0 200 "):
            if method == "DESCRIBE":
                rtsp.described(len(self.tracks))
            elif method == "ANNOUNCE":
                rtsp.announced(len(self.publish.tracks) if self.publish else 0)
            elif method == "SETUP":
                rtsp.set_up()
            elif method in ("PLAY", "RECORD"):
                rtsp.started()
            elif method == "PAUSE":
                rtsp.paused()
            elif method == "TEARDOWN":
                rtsp.torn_down()
        return out

    async def _describe(self, m: RtspMessage) -> bytes:
        cseq = m.cseq
        uri, _ = split_target(m.uri)
        found = await self._identify(m, "rtsp-play")
        if isinstance(found, int):
            return serialize_response(found, cseq, self._session_headers())
        req, vhost = found
        src = self.ctx.registry.find(req.stream_url)
        # A publisher that just started may not have sent both sequence headers yet: wait a little.
        for _ in range(int(HEADER_WAIT_S / 0.1)):
            if src is None or not src.publishing or (src.video_sh is not None and src.audio_sh is not None):
                break
            await asyncio.sleep(0.1)
            if self.closed:
                return b""
        tracks: list[Track] = []
        bridged = vhost.rtsp.enabled and vhost.rtsp.rtmp_to_rtsp  # RTMP/SRT/WebRTC to RTSP
        if src is not None and src.publishing and (bridged or isinstance(src.publisher, RtspPublish)):
            a = audio_track(src.audio_sh.payload if src.audio_sh is not None else None)
            v = video_track(src.video_sh.payload if src.video_sh is not None else None)
            for t in (a, v):
                if t is not None:
                    tracks.append(
                        Track(t.kind, t.codec, t.pt, t.clock, t.channels, t.fmtp, f"trackID={len(tracks)}")
                    )
            if v is not None:
                self.video_codec = "h265" if v.codec == "H265" else "h264"
        if not tracks:
            log.warning("RTSP DESCRIBE %s: no track (not published)", req.stream_url)
            return serialize_response(404, cseq, self._session_headers())
        self.tracks = tracks
        self.ctx.identified(self)
        host = self.transport.get_extra_info("sockname")
        sdp = describe(uri, tracks, str(host[0]) if host else "0.0.0.0").encode()
        headers = {"Content-Base": uri.rstrip("/") + "/", "Content-Type": "application/sdp"}
        headers.update(self._session_headers())
        return serialize_response(200, cseq, headers, sdp)

    async def _identify(self, m: RtspMessage, kind: str) -> tuple[Request, VhostConfig] | int:
        """Request, vhost, stats registration and security of DESCRIBE/ANNOUNCE; else a status."""
        uri, _ = split_target(m.uri)
        req = with_user(request_of(uri, self.ip), self.auth)  # user=<name> for the hooks
        if unsafe_name(req.app, req.stream) is not None:
            return 400
        try:
            vhost = self.ctx.resolve_vhost(req.vhost)
        except SrsError:
            return 404
        req = req.with_vhost(vhost.name)
        self.request, self.vhost = req, vhost
        client = self.client = Client(self, req, kind)
        try:
            if not self._registered:
                self.ctx.policy.on_client(client)
                self._registered = True
            self.ctx.policy.check_security(client)
        except SrsError as e:
            log.warning("RTSP client ip=%s refused: %s", self.ip, e)
            return 403
        try:
            if kind == "rtsp-publish":
                await self.ctx.policy.on_publish(client)
            else:
                await self.ctx.policy.on_play(client)
        except SrsError as e:
            log.warning("RTSP client ip=%s refused by the hook: %s", self.ip, e)
            return 401
        return req, vhost

    async def _announce(self, m: RtspMessage) -> bytes:
        cseq = m.cseq
        tracks = announce_tracks(m)
        if not tracks:
            return serialize_response(415 if m.body else 400, cseq)
        self.publish = RtspPublish(self, tracks)  # the kind is rtsp-publish from here on
        found = await self._identify(m, "rtsp-publish")
        if isinstance(found, int):
            self.publish = None
            return serialize_response(found, cseq)
        self.ctx.identified(self)
        return serialize_response(200, cseq, self._session_headers())

    def _setup(self, m: RtspMessage) -> bytes:
        cseq = m.cseq
        _, index = split_target(m.uri)
        if not self.tracks:
            return serialize_response(455, cseq)
        if index is None:
            if len(self.tracks) != 1:
                return serialize_response(459, cseq, self._session_headers())
            index = 0
        if index < 0 or index >= len(self.tracks):
            return serialize_response(404, cseq, self._session_headers())
        specs = parse_transport(m.headers.get("transport", ""))
        if not specs:
            return serialize_response(461, cseq, self._session_headers())
        spec: Transport = specs[0]
        track = self.tracks[index]
        headers = self._session_headers()
        if spec.mode not in ("play", ""):
            return serialize_response(461, cseq, headers)
        if spec.tcp:
            ch = spec.interleaved or (2 * index, 2 * index + 1)
            setup = _Setup(track, ch[0], None)
            headers["Transport"] = f"RTP/AVP/TCP;unicast;interleaved={ch[0]}-{ch[1]}"
        else:
            if spec.client_port is None or self.server.udp_rtp is None:
                return serialize_response(461, cseq, headers)
            lo, hi = spec.client_port
            setup = _Setup(track, None, (self.ip, lo, hi))
            self.server.by_udp[(self.ip, hi)] = self
            self.server.by_udp[(self.ip, lo)] = self
            sp = self.server.udp_port
            headers["Transport"] = f"RTP/AVP;unicast;client_port={lo}-{hi};server_port={sp}-{sp + 1}"
        self.setups[index] = setup
        self.by_pt[track.pt] = setup
        return serialize_response(200, cseq, headers)

    def _play(self, m: RtspMessage) -> bytes:
        cseq = m.cseq
        headers = self._session_headers()
        if not self.setups or self.request is None:
            return serialize_response(455, cseq, headers)
        if self.consumer is not None:
            self.paused = False
            return serialize_response(200, cseq, headers)
        src = self.ctx.registry.find(self.request.stream_url)
        if src is None or not src.publishing:
            return serialize_response(404, cseq, headers)
        base, _ = split_target(m.uri)
        headers["Range"] = "npt=0.000-"
        headers["RTP-Info"] = ",".join(
            f"url={base.rstrip('/')}/{s.track.control}" for s in self.setups.values()
        )
        self.consumer = src.create_consumer(RtspSink(self))
        self.server.players.add(self)
        log.info("RTSP play ip=%s url=%s tracks=%d", self.ip, self.request.stream_url, len(self.setups))
        return serialize_response(200, cseq, headers)

    # --- sender reports

    def report(self) -> None:
        """Every second: an RTCP SR per playing track (RTP time of the newest packet against now)."""
        c = self.consumer
        wire = c.wire if c is not None else None
        if not isinstance(wire, RtspWire) or self.closed or self.paused:
            return
        ntp = ntp_now()
        for t in (wire.video, wire.audio):
            if t.last_ts is None:
                continue
            s = self.by_pt.get(VIDEO_PT if t is wire.video else AUDIO_PT)
            if s is None:
                continue
            data = rtcp.serialize_compound([rtcp.RtcpSr(t.ssrc, ntp, t.last_ts, 0, self.send_bytes)])
            if s.channel is not None:
                self.transport.write(interleave(s.channel + 1, data))
            elif s.udp is not None and self.server.udp_rtcp is not None:
                self.server.udp_rtcp.sendto(data, (s.udp[0], s.udp[2]))


class RtspServer:
    """The ``rtsp_server`` listener (TCP) and the shared UDP RTP/RTCP pair."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.auth_cfg = ctx.config.rtsp_server.auth  # read at start, as the listener
        self.conns: set[RtspConnection] = set()
        self.players: set[RtspConnection] = set()
        self.by_udp: dict[tuple[str, int], RtspConnection] = {}
        self.udp_rtp: asyncio.DatagramTransport | None = None
        self.udp_rtcp: asyncio.DatagramTransport | None = None
        self.udp_port = 0
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._timer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.ctx.config.rtsp_server

        def factory() -> RtspConnection:
            conn = RtspConnection(self)
            self.conns.add(conn)
            return conn

        self._server = await loop.create_server(factory, "0.0.0.0", cfg.listen)
        self.port = self._server.sockets[0].getsockname()[1]
        await self._open_udp()
        self._timer = loop.create_task(self._reports())
        log.info(
            "RTSP server listen at tcp://0.0.0.0:%d, udp rtp/rtcp %d-%d",
            self.port,
            self.udp_port,
            self.udp_port + 1,
        )

    async def _open_udp(self) -> None:
        """An even/odd UDP port pair (RFC 3550: RTP even, RTCP the next)."""
        loop = asyncio.get_running_loop()
        for _ in range(64):
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("0.0.0.0", 0))
            port = probe.getsockname()[1] & ~1
            probe.close()
            try:
                rtp, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpIn(self), local_addr=("0.0.0.0", port)
                )
            except OSError:
                continue
            try:
                rtcp_t, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpIn(self), local_addr=("0.0.0.0", port + 1)
                )
            except OSError:
                rtp.close()
                continue
            self.udp_rtp, self.udp_rtcp, self.udp_port = rtp, rtcp_t, port
            return
        log.warning("RTSP: no UDP port pair, only TCP transport is offered")

    async def _reports(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for conn in list(self.players):
                if conn.closed:
                    self.players.discard(conn)
                    continue
                with contextlib.suppress(Exception):
                    conn.report()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self.conns):
            conn.close("server stopping")
        for t in (self.udp_rtp, self.udp_rtcp):
            if t is not None:
                t.close()


__all__ = ["RtspConnection", "RtspServer", "split_target"]
