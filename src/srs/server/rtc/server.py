"""The WebRTC media port (``rtc_server``): one UDP port (and optionally TCP) for every session.

Datagrams are told apart by their first byte (RFC 7983): STUN binding requests find their session
by the local ufrag and teach it the sender's address; DTLS and SRTP/SRTCP find it by that address
in O(1) (:class:`srs.protocol.rtc.ice.IceSessions`). A session that gets no binding request for
``stun_timeout`` is closed (consent freshness). Over TCP (``rtc_server.tcp``) each connection
carries RFC 4571 frames (a 16-bit length before each packet) and is dispatched the same way.

:meth:`RtcServer.create` is what the signalling (WHIP/WHEP/legacy, ``srs.server.rtc.signal``)
calls: the control plane in SRS's order (stats registration, security, on_publish/on_play hook),
negotiation, then the session waits for ICE and DTLS.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import string
import time
from typing import TYPE_CHECKING, Any, cast

from srs import VERSION
from srs.protocol.rtc.dtls import generate_certificate
from srs.protocol.rtc.ice import IceSession, IceSessions, PacketKind, classify
from srs.protocol.rtc.negotiate import AnswerOptions, negotiate
from srs.server.policy import Client
from srs.server.rtc.session import Address, Path, RtcSession, TcpPath, UdpPath
from srs.server.rtc.spec import Created, SessionSpec
from srs.util.errors import ErrorCode, ParseError, SrsError

if TYPE_CHECKING:
    from srs.server.context import ServerContext

log = logging.getLogger("srs")

FAST_TICK_S = 0.02  # DTLS timers, publishers' NACK/PLI/TWCC, reorder waits
SLOW_EVERY = 50  # every 50 fast ticks (1 s): consent expiry, players' sender reports
TCP_MAX_FRAME = 65535
_UFRAG_CHARS = string.ascii_letters + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(_UFRAG_CHARS) for _ in range(n))


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: RtcServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is not a subclass

    def datagram_received(self, data: bytes, addr: Any) -> None:
        t = self.transport
        if t is not None:
            self.server.on_udp(data, (addr[0], addr[1]), t)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable from a peer that left: its session times out


class _Tcp(asyncio.Protocol):
    """One WebRTC-over-TCP connection: RFC 4571 frames."""

    def __init__(self, server: RtcServer) -> None:
        self.server = server
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.addr: Address = ("", 0)
        self.path: TcpPath | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.addr = (str(peer[0]), int(peer[1])) if peer else ("", 0)
        self.path = TcpPath(transport)
        self.server.tcp_conns.add(self)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        n = len(buf)
        path = self.path
        assert path is not None
        while n - pos >= 2:
            size = (buf[pos] << 8) | buf[pos + 1]
            if n - pos - 2 < size:
                break
            frame = bytes(buf[pos + 2 : pos + 2 + size])
            pos += 2 + size
            try:
                self.server.dispatch(frame, self.addr, path)
            except Exception:
                s = self.server.ice.by_address(self.addr)
                self.server._failed(s.owner if s is not None else None)
        del buf[:pos]
        if len(buf) > TCP_MAX_FRAME + 2 and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.tcp_conns.discard(self)
        s = self.server.ice.by_address(self.addr)
        if s is not None and isinstance(s.owner, RtcSession) and s.owner.path is self.path:
            s.owner.close("TCP connection closed")


class RtcServer:
    """Every WebRTC session of the server; implements :class:`~srs.server.rtc.spec.RtcSessions`."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        cfg = ctx.config.rtc_server
        if not cfg.ecdsa:
            log.warning("rtc_server.ecdsa off: we use ECDSA P-256 certificates only (browsers accept them)")
        self.certificate = generate_certificate()
        self.ice = IceSessions()
        self.sessions: dict[str, RtcSession] = {}
        self.tcp_conns: set[_Tcp] = set()
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: asyncio.Server | None = None
        self._dtls_watch: set[RtcSession] = set()
        self.fast: set[RtcSession] = set()  # sessions ticked every FAST_TICK_S (publishers)
        self._ticks = 0
        self._timer: asyncio.TimerHandle | None = None
        self._udp_port: int | None = None
        self._tcp_port: int | None = None
        self.bad_datagrams = 0

    # ------------------------------------------------------------------ listeners

    async def start(self) -> None:
        cfg = self.ctx.config.rtc_server
        loop = asyncio.get_running_loop()
        if cfg.protocol in ("udp", "all") or not cfg.tcp.enabled:
            n = max(1, cfg.reuseport)
            for _ in range(n):
                transport, _proto = await loop.create_datagram_endpoint(
                    lambda: _Udp(self),
                    local_addr=("0.0.0.0", self._udp_port or cfg.listen),
                    reuse_port=n > 1 or None,
                )
                sock = transport.get_extra_info("socket")
                for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
                    except OSError:
                        pass
                self._udp_port = sock.getsockname()[1]
                self._udp.append(transport)
        if cfg.tcp.enabled:
            self._tcp = await loop.create_server(lambda: _Tcp(self), "0.0.0.0", cfg.tcp.listen)
            self._tcp_port = self._tcp.sockets[0].getsockname()[1]
        self._timer = loop.call_later(FAST_TICK_S, self._tick)
        log.info("RTC server listen udp=%s tcp=%s", self._udp_port or "off", self._tcp_port or "off")

    async def stop(self) -> None:
        for s in list(self.sessions.values()):
            s.close("server shutdown")
        if self._timer is not None:
            self._timer.cancel()
        for t in self._udp:
            t.close()
        self._udp.clear()
        if self._tcp is not None:
            self._tcp.close()
            for c in list(self.tcp_conns):
                if c.transport is not None:
                    c.transport.close()
            await self._tcp.wait_closed()

    @property
    def udp_port(self) -> int | None:
        return self._udp_port

    @property
    def tcp_port(self) -> int | None:
        return self._tcp_port

    # ------------------------------------------------------------------ datagrams

    def on_udp(self, data: bytes, addr: Address, transport: asyncio.DatagramTransport) -> None:
        """The hot path: media from a known address goes straight to its session."""
        if data and 127 < data[0] < 192:
            s = self.ice.by_address(addr)
            if s is not None:
                try:
                    s.owner.on_media(data)  # type: ignore[attr-defined]
                except Exception:
                    self._failed(s.owner)
                return
        try:
            self.dispatch(data, addr, None, transport)
        except Exception:
            s = self.ice.by_address(addr)
            self._failed(s.owner if s is not None else None)

    def _failed(self, owner: object) -> None:
        """A bug met by one session's datagram: that session ends, the port serves everyone else."""
        log.exception("RTC: a datagram failed in session %s", getattr(owner, "cid", "-"))
        if isinstance(owner, RtcSession):
            owner.close("internal error")

    def dispatch(
        self,
        data: bytes,
        addr: Address,
        path: Path | None,
        transport: asyncio.DatagramTransport | None = None,
    ) -> None:
        kind = classify(data)
        if kind == PacketKind.STUN:
            try:
                answered = self.ice.on_stun(data, addr, time.monotonic())
            except (ParseError, KeyError) as e:
                self._bad(addr, f"STUN: {e}")
                return
            session = answered.session.owner
            if not isinstance(session, RtcSession):
                return
            if path is None:
                assert transport is not None
                path = UdpPath(transport, addr)
            path.send(answered.response)
            if session.path is None or answered.nominated_now:
                session.on_nominated(path)
            return
        s = self.ice.by_address(addr)
        if s is None or not isinstance(s.owner, RtcSession):
            self._bad(addr, f"{kind.name} from an address without a checked STUN binding")
            return
        if kind == PacketKind.DTLS:
            if not s.nominated and s.address != addr and (path is not None or transport is not None):
                # Before USE-CANDIDATE the path is the first checked address, which may be one the
                # client never hears from (Chromium checks from every interface; our reply to its
                # eth0 candidate leaves from another source address). The client sends DTLS on the
                # pair it selected: answer there, or its hello waits a 1 s retransmit.
                s.address = addr
                s.owner.path = path if path is not None else UdpPath(cast(Any, transport), addr)
            s.owner.on_dtls(data)
        elif kind == PacketKind.RTP or kind == PacketKind.RTCP:
            s.owner.on_media(data)
        else:
            self._bad(addr, "not STUN, DTLS or RTP")

    def _bad(self, addr: Address, why: str) -> None:
        self.bad_datagrams += 1
        n = self.bad_datagrams
        if n <= 3 or n in (100, 10_000) or n % 1_000_000 == 0:
            log.warning("RTC: dropped a datagram from %s:%d (%d so far): %s", addr[0], addr[1], n, why)

    # ------------------------------------------------------------------ signalling

    async def create(self, spec: SessionSpec) -> Created:
        from srs.server.rtc.play import RtcPlayer, play_tracks
        from srs.server.rtc.publish import RtcPublisher

        ctx = self.ctx
        req, vhost = spec.request, spec.vhost
        remote_ufrag = spec.offer.media_attr(spec.offer.media[0], "ice-ufrag") if spec.offer.media else None
        local_ufrag = spec.ice_ufrag or _random(8)
        while self.ice.by_ufrag(local_ufrag) is not None:
            if spec.ice_ufrag:
                raise SrsError(f"ice-ufrag {local_ufrag!r} is in use", ErrorCode.RTC_SDP_EXCHANGE)
            local_ufrag = _random(8)
        local_pwd = spec.ice_pwd or _random(32)
        session_id = f"{local_ufrag}:{remote_ufrag or ''}"
        opts = AnswerOptions(
            local_ufrag,
            local_pwd,
            self.certificate.fingerprint,
            list(spec.candidates),
            app=req.app,
            stream=req.stream,
            codec=spec.codec,
            dtls_role=vhost.rtc.dtls_role,
            nack=vhost.rtc.nack,
            twcc=vhost.rtc.twcc,
            session_id=str(secrets.randbits(62)),
            server=f"SRS/{VERSION}",
            play_tracks=[] if spec.publish else play_tracks(),
        )
        negotiated = negotiate(spec.offer, opts, publish=spec.publish)
        cid = ctx.new_cid()
        ice = IceSession(local_ufrag, local_pwd, remote_ufrag or "")
        cls = RtcPublisher if spec.publish else RtcPlayer
        session = cls(
            self,
            cid=cid,
            request=req,
            vhost=vhost,
            negotiated=negotiated,
            ice=ice,
            token=secrets.token_hex(8),
            session_id=session_id,
            dtls=spec.dtls,
            encrypt=spec.encrypt,
            ip=spec.client_ip,
        )
        ice.owner = session
        if not ctx.admit(session, anonymous=False):
            raise SrsError("exceed max_connections", ErrorCode.EXCEED_CONNECTIONS)
        client = Client(session, req, spec.kind)
        session.client = client
        policy = ctx.policy
        registered = False
        try:
            policy.on_client(client)
            registered = True
            policy.check_security(client)
            if spec.publish:
                await policy.on_publish(client)
            else:
                await policy.on_play(client)
            if ctx.closing:
                raise SrsError("server is closing")
            session.prepare()  # acquire the source (publish) or check it may be played
        except BaseException:
            ctx.forget(session)
            if registered:
                policy.on_disconnect(client, True)
            session.closed = True
            raise
        self.ice.add(ice, time.monotonic())
        self.sessions[session_id] = session
        log.info(
            "RTC %s ip=%s url=%s session=%s codec=%s param=%s",
            "publish" if spec.publish else "play",
            spec.client_ip,
            req.stream_url,
            session_id,
            ",".join(f"{m.kind}:{m.codec.name}" for m in negotiated.accepted if m.codec is not None),
            req.param or "-",
        )
        return Created(str(negotiated.answer), session_id, session.token, cid)

    def delete(self, session_id: str, token: str) -> bool:
        s = self.sessions.get(session_id)
        if s is None:
            return bool(token)  # SRS: a session already gone (timed out, kicked) is deleted fine
        if not token or not secrets.compare_digest(s.token, token):
            return False
        s.close("deleted by the client (WHIP/WHEP DELETE)")
        return True

    # ------------------------------------------------------------------ lifetimes

    def forget(self, session: RtcSession) -> None:
        """Called by a session once it closed."""
        self.ice.remove(session.ice)
        if self.sessions.get(session.session_id) is session:
            del self.sessions[session.session_id]
        self._dtls_watch.discard(session)
        self.fast.discard(session)
        self.ctx.forget(session)
        if session.client is not None:
            self.ctx.policy.on_disconnect(session.client, False)

    @staticmethod
    def now_ms() -> int:
        return int(time.monotonic() * 1000)

    def watch_dtls(self, session: RtcSession) -> None:
        self._dtls_watch.add(session)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(FAST_TICK_S, self._tick)
        now = time.monotonic()
        now_ms = int(now * 1000)
        if self._dtls_watch:
            for s in list(self._dtls_watch):
                if not s.dtls_tick(now):
                    self._dtls_watch.discard(s)
        for s in list(self.fast):
            self._guard(s, now_ms)
        self._ticks += 1
        if self._ticks % SLOW_EVERY:
            return
        timeout: dict[str, int] = {}
        for s in list(self.sessions.values()):
            if s not in self.fast:
                self._guard(s, now_ms)
            t = timeout.get(s.vhost.name)
            if t is None:
                v = self.ctx.config.vhost(s.vhost.name)
                t = timeout[s.vhost.name] = (v or s.vhost).rtc.stun_timeout_s
            if now - s.ice.last_stun_s > t:
                s.close(f"no STUN binding request for {t} s (stun_timeout)")

    def _guard(self, s: RtcSession, now_ms: int) -> None:
        try:
            s.tick(now_ms)
        except Exception:  # one session's bug must not stop the timer of all
            log.exception("RTC session %s tick failed", s.cid)
            s.close("internal error")
