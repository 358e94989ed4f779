"""One WebRTC peer connection on the media port: ICE-lite, DTLS, SRTP, RTCP in and out.

The :class:`~srs.server.rtc.server.RtcServer` owns the UDP socket and the TCP connections and hands
each datagram to the session its address (or, for STUN, its ufrag) belongs to. A session sends on
the :class:`Path` of its latest nominated address: a UDP address or a TCP connection (RFC 4571
framing), so a client that moves keeps its session. :class:`RtcPlayer` (``play.py``) and
:class:`RtcPublisher` (``publish.py``) add what plays or publishes.

SRS's transports, per request: ``dtls=false`` -> no DTLS and plaintext RTP
(``SrsPlaintextTransport``); ``encrypt=false`` -> DTLS handshake, then plaintext RTP
(``SrsSemiSecurityTransport``); else DTLS-SRTP (``SrsSecurityTransport``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Literal, Protocol

from srs.protocol.rtc import rtcp
from srs.protocol.rtc.dtls import DtlsEndpoint, DtlsError
from srs.protocol.rtc.ice import IceSession
from srs.protocol.rtc.rtp import is_rtcp
from srs.protocol.rtc.srtp import PlainSession, SrtpSession
from srs.util.errors import ParseError, SrsError

if TYPE_CHECKING:
    from srs.config import VhostConfig
    from srs.protocol.request import Request
    from srs.protocol.rtc.negotiate import Negotiated
    from srs.server.policy import Client
    from srs.server.rtc.server import RtcServer

log = logging.getLogger("srs")

Address = tuple[str, int]
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01


def ntp_now() -> int:
    """The 64-bit NTP timestamp of now (RTCP SR)."""
    t = time.time() + NTP_EPOCH_OFFSET
    sec = int(t)
    return (sec << 32) | int((t - sec) * (1 << 32))


class Path(Protocol):
    """Where a session's datagrams go: a UDP address or a TCP connection."""

    def send(self, data: bytes) -> None: ...

    def backlog(self) -> int:
        """Bytes the transport holds unsent."""
        ...

    @property
    def closed(self) -> bool: ...


class UdpPath:
    __slots__ = ("addr", "transport")

    def __init__(self, transport: asyncio.DatagramTransport, addr: Address) -> None:
        self.transport = transport
        self.addr = addr

    def send(self, data: bytes) -> None:
        self.transport.sendto(data, self.addr)

    def backlog(self) -> int:
        size: int = self.transport.get_write_buffer_size()  # type: ignore[attr-defined]
        return size

    @property
    def closed(self) -> bool:
        return self.transport.is_closing()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UdpPath) and other.addr == self.addr and other.transport is self.transport

    def __hash__(self) -> int:
        return hash(self.addr)

    def __repr__(self) -> str:
        return f"udp://{self.addr[0]}:{self.addr[1]}"


class TcpPath:
    """RFC 4571: each packet is prefixed by its 16-bit length."""

    __slots__ = ("transport",)

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def send(self, data: bytes) -> None:
        self.transport.writelines([len(data).to_bytes(2, "big"), data])

    def backlog(self) -> int:
        return self.transport.get_write_buffer_size()

    def __repr__(self) -> str:
        peer = self.transport.get_extra_info("peername")
        return f"tcp://{peer[0]}:{peer[1]}" if peer else "tcp://?"

    @property
    def closed(self) -> bool:
        return self.transport.is_closing()


class RtcSession:
    """What every WebRTC session shares; the connection record in the context's table."""

    kind = "rtc-play"

    def __init__(
        self,
        server: RtcServer,
        *,
        cid: str,
        request: Request,
        vhost: VhostConfig,
        negotiated: Negotiated,
        ice: IceSession,
        token: str,
        session_id: str,
        dtls: bool,
        encrypt: bool,
        ip: str,
    ) -> None:
        self.server = server
        self.cid = cid
        self.ip = ip
        self.request = request
        self.vhost = vhost
        self.negotiated = negotiated
        self.ice = ice
        self.token = token
        self.session_id = session_id
        self.client: Client | None = None
        self.path: Path | None = None
        self.send_bytes = 0
        self.recv_bytes = 0
        self.closed = False
        self.connected = False  # DTLS done (or no DTLS) and a path nominated: media flows
        self.encrypt = encrypt
        self.srtp: SrtpSession | PlainSession | None = None
        self.dtls: DtlsEndpoint | None = None
        if dtls:
            role: Literal["client", "server"] = "server" if negotiated.dtls_setup == "passive" else "client"
            fp = negotiated.remote_fingerprint
            self.dtls = DtlsEndpoint(
                server.certificate, role, fp[1] if fp and fp[0].lower() == "sha-256" else None
            )
        self._dtls_deadline: float | None = None
        self.srtp_errors = 0
        self.created_s = time.monotonic()

    # ------------------------------------------------------------------ ICE / DTLS

    def on_nominated(self, path: Path) -> None:
        """A binding request with USE-CANDIDATE (or from a new address): send there from now on."""
        old = self.path
        self.path = path
        if old is not None:
            if old != path:
                log.info("RTC session %s moved to %r", self.cid, path)
            return
        if self.dtls is None:
            self._on_secure(PlainSession())
        elif self.dtls.role == "client":
            self._send_all(self.dtls.start())
            self._arm_dtls()

    def on_dtls(self, data: bytes) -> None:
        d = self.dtls
        if d is None or self.closed:
            return
        try:
            out = d.receive(data)
        except DtlsError as e:
            log.warning("RTC session %s: %s", self.cid, e)
            self.close(str(e))
            return
        self._send_all(out)
        if d.closed and self.srtp is not None:
            self.close("DTLS close_notify")
            return
        if out and self.srtp is not None:
            # The peer repeated its last flight after we were done: our final flight was lost, so
            # what we sent since then reached a peer without keys.
            self.on_final_flight_lost()
            return
        if d.keys is not None and self.srtp is None:
            self._dtls_deadline = None
            self._on_secure(SrtpSession(d.keys) if self.encrypt else PlainSession())
        else:
            self._arm_dtls()

    def _arm_dtls(self) -> None:
        t = self.dtls.timeout() if self.dtls is not None else None
        self._dtls_deadline = None if t is None else time.monotonic() + t
        if t is not None:
            self.server.watch_dtls(self)

    def dtls_tick(self, now: float) -> bool:
        """Resend a lost DTLS flight when its timer ran out; whether the timer still runs."""
        d = self.dtls
        if d is None or self.closed or self._dtls_deadline is None:
            return False
        if now >= self._dtls_deadline:
            try:
                self._send_all(d.on_timeout())
            except DtlsError as e:
                self.close(str(e))
                return False
            t = d.timeout()
            self._dtls_deadline = None if t is None else now + t
        return self._dtls_deadline is not None

    def _on_secure(self, srtp: SrtpSession | PlainSession) -> None:
        self.srtp = srtp
        self.connected = True
        log.info(
            "RTC %s session %s connected ip=%s url=%s srtp=%s",
            self.kind,
            self.cid,
            self.ip,
            self.request.stream_url,
            srtp.profile,
        )
        self.start()

    # ------------------------------------------------------------------ media

    def on_media(self, data: bytes) -> None:
        """An SRTP or SRTCP datagram (RFC 7983 range 128..191)."""
        srtp = self.srtp
        if srtp is None or self.closed:
            return
        self.recv_bytes += len(data)
        try:
            if is_rtcp(data):
                plain = srtp.unprotect_rtcp(data)
                packets = rtcp.parse_compound(plain)
                self.on_rtcp(packets)
            else:
                self.on_rtp(srtp.unprotect_rtp(data))
        except ParseError as e:
            self.srtp_errors += 1
            if self.srtp_errors in (1, 100, 10_000):
                log.warning("RTC session %s: dropped a packet (%d so far): %s", self.cid, self.srtp_errors, e)

    def send_rtcp(self, packets: list[rtcp.RtcpPacket]) -> None:
        path, srtp = self.path, self.srtp
        if path is None or srtp is None or self.closed:
            return
        data = srtp.protect_rtcp(rtcp.serialize_compound(packets))
        self.send_bytes += len(data)
        path.send(data)

    def _send_all(self, datagrams: list[bytes]) -> None:
        path = self.path
        if path is None:
            return
        for d in datagrams:
            self.send_bytes += len(d)
            path.send(d)

    # ------------------------------------------------------------------ subclasses

    def start(self) -> None:
        """DTLS is done (or off): media may flow."""

    def on_final_flight_lost(self) -> None:
        """Our last DTLS flight was sent again (see :meth:`on_dtls`)."""

    def on_rtp(self, packet: bytes) -> None:
        """A decrypted RTP packet."""

    def on_rtcp(self, packets: list[rtcp.RtcpPacket]) -> None:
        """Decrypted RTCP packets."""

    def tick(self, now_ms: int) -> None:
        """About every 20 ms for publishers, every second for players."""

    def stop(self, reason: str) -> None:
        """Detach from the Source and run the hooks (once, from :meth:`close`)."""

    # ------------------------------------------------------------------ end

    def close(self, reason: str) -> None:
        """End the session (DELETE, kick, timeout, DTLS failure, shutdown); idempotent."""
        if self.closed:
            return
        if self.dtls is not None and self.path is not None and not self.path.closed:
            try:
                self._send_all(self.dtls.close())
            except SrsError:
                pass
        self.closed = True
        self.connected = False
        log.info(
            "RTC %s session %s closed: %s (sent=%d recv=%d)",
            self.kind,
            self.cid,
            reason,
            self.send_bytes,
            self.recv_bytes,
        )
        try:
            self.stop(reason)
        finally:
            self.server.forget(self)
