"""The SRT listener (``srt_server { enabled on; listen 10080; }``): libsrt joined to asyncio.

libsrt runs its own threads (UDP receive, send queue, retransmissions, TSBPD) and exposes sockets
that are not file descriptors, so asyncio cannot poll them. One thread of ours (``srt-epoll``)
waits in ``srt_epoll_uwait`` (50 ms at most, the GIL released), accepts new connections, reads
every message that is ready (non-blocking ``srt_recvmsg`` until ``EASYNCRCV``) and hands the whole
batch of one wakeup to the event loop with a single ``loop.call_soon_threadsafe``. Everything else
runs on the loop: the connection's hooks, the Source, the players' sends.

Sends: ``srt_sendmsg`` on a non-blocking socket only copies the message into libsrt's send buffer
(libsrt's send-queue thread paces it out) and libsrt's API is thread-safe, so players call it
directly from the loop; a full buffer answers ``EASYNCSND`` at once and the chunk is dropped and
counted (libsrt's own ``tlpktdrop`` drops late packets the same way). No queue, no extra wakeup.
Measured (1000 calls/s of 1316 bytes to srt-live-transmit): median 1.8 us, p99 69 us, max 0.4 ms
(libsrt's lock shared with its send thread): cheaper than a hand-off to the thread would be.
A 2 Mbit/s publisher costs ~0.63 % of a core in all (docs/PERFORMANCE.md, bench/srt_ingest.py).

Not reloadable (as SRS): ``srt_server`` changes need a restart; a vhost whose ``srt`` is turned off by
a reload refuses new SRT clients, those connected stay.

Before the handshake is answered, libsrt calls our listen callback (on its receive thread) with the
peer's streamid: a streamid SRS would refuse, or a vhost whose ``srt`` is off, is rejected there
(the caller sees the reject reason: 1400 bad request, 1403 forbidden). A wrong passphrase never gets
that far: libsrt refuses the key material itself (``SRTO_ENFORCEDENCRYPTION``, on by default).

The options of ``srt_server`` are set on the listening socket, which accepted sockets inherit (as
SRS). ``listen 0`` takes a free port (:attr:`SrtServer.port`).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
from typing import TYPE_CHECKING

from srs.config import SrtServerConfig
from srs.protocol.request import DEFAULT_VHOST
from srs.protocol.srt.streamid import parse_streamid
from srs.server.srt import libsrt
from srs.server.srt.libsrt import (
    SRT_EASYNCRCV,
    SRT_EPOLL_ERR,
    SRT_EPOLL_IN,
    SRT_REJX_BAD_REQUEST,
    SRT_REJX_FORBIDDEN,
    LibSrt,
    ListenCallback,
    SrtEpollEvent,
)
from srs.util.errors import ParseError, SrsError

if TYPE_CHECKING:
    from srs.server.context import ServerContext
    from srs.server.srt.conn import SrtConnection

log = logging.getLogger("srs")

WAIT_MS = 50  # srt_epoll_uwait timeout: how long a stop waits for the thread
MAX_EVENTS = 256
RECV_BUF = 1500  # a live-mode message is at most payloadsize (1316 .. 1456) bytes

# One wakeup's events: ("accept", sock, (ip, port), streamid), ("data", sock, [messages]),
# ("closed", sock, None, None)
Event = tuple[str, int, object, object]


def apply_options(srt: LibSrt, s: int, c: SrtServerConfig) -> None:
    """SRS's listener options (``SrsSrtServer::listen_srt_mpegts``), in its order."""
    srt.set_int64(s, libsrt.SRTO_MAXBW, c.maxbw)
    srt.set_int(s, libsrt.SRTO_MSS, c.mss)
    srt.set_bool(s, libsrt.SRTO_TSBPDMODE, c.tsbpdmode)
    srt.set_int(s, libsrt.SRTO_LATENCY, c.latency_ms)
    srt.set_int(s, libsrt.SRTO_RCVLATENCY, c.recvlatency_ms)
    srt.set_int(s, libsrt.SRTO_PEERLATENCY, c.peerlatency_ms)
    srt.set_bool(s, libsrt.SRTO_TLPKTDROP, c.tlpktdrop)
    srt.set_int(s, libsrt.SRTO_CONNTIMEO, c.connect_timeout_ms)
    srt.set_int(s, libsrt.SRTO_PEERIDLETIMEO, c.peer_idle_timeout_ms)
    srt.set_int(s, libsrt.SRTO_SNDBUF, c.sendbuf)
    srt.set_int(s, libsrt.SRTO_RCVBUF, c.recvbuf)
    srt.set_int(s, libsrt.SRTO_PAYLOADSIZE, c.payloadsize)
    if c.passphrase:
        srt.set_str(s, libsrt.SRTO_PASSPHRASE, c.passphrase)
        srt.set_int(s, libsrt.SRTO_PBKEYLEN, c.pbkeylen)


class SrtServer:
    """The SRT port: the epoll thread, the accepted connections by libsrt socket id."""

    def __init__(self, ctx: ServerContext, srt: LibSrt) -> None:
        self.ctx = ctx
        self.srt = srt
        from srs.server.srt.conn import ChunkCut

        self.chunks = ChunkCut()  # the players' shared cut of the TS wire
        self.config = ctx.config.srt_server
        self.loop = asyncio.get_running_loop()
        self.listener = -1
        self.eid = -1
        self.port = 0
        # SRS: an SRT request's host (and tcUrl's when no vhost is named) is the server's first
        # public address (srs_get_public_internet_address).
        self.public_ip = public_ip()
        self.conns: dict[int, SrtConnection] = {}
        self._unsubscribed: set[int] = set()  # broken sockets the thread took out of its epoll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._callback = ListenCallback(self._on_listen)  # kept: libsrt holds only the pointer
        self.rejected = 0
        self.batches = 0

    # ------------------------------------------------------------------ start / stop

    def start(self, host: str = "0.0.0.0") -> None:
        srt = self.srt
        s = srt.create_socket()
        try:
            srt.set_bool(s, libsrt.SRTO_RCVSYN, False)  # accept never blocks (epoll says when)
            srt.set_bool(s, libsrt.SRTO_SNDSYN, False)
            apply_options(srt, s, self.config)
            srt.listen_callback(s, self._callback)
            srt.bind(s, host, self.config.listen)
            srt.listen(s, 100)
            self.port = srt.sockname(s)[1]
            self.eid = srt.epoll_create()
            srt.epoll_add(self.eid, s, SRT_EPOLL_IN | SRT_EPOLL_ERR)
        except Exception:
            srt.close(s)
            raise
        self.listener = s
        self._thread = threading.Thread(target=self._run, name="srt-epoll", daemon=True)
        self._thread.start()
        log.info(
            "SRT listen=udp://%s:%d (libsrt %s) latency=%dms passphrase=%s",
            host,
            self.port,
            srt.name,
            self.config.latency_ms,
            "on" if self.config.passphrase else "off",
        )

    async def stop(self) -> None:
        for conn in list(self.conns.values()):
            conn.close("server stopping")
        self._stop.set()
        t = self._thread
        if t is not None:
            await asyncio.to_thread(t.join, 2.0)
        for sock in list(self.conns):
            self.release(sock)
        if self.listener >= 0:
            self.srt.close(self.listener)
            self.listener = -1
        if self.eid >= 0:
            self.srt.epoll_release(self.eid)
            self.eid = -1

    def release(self, sock: int) -> None:
        """Forget and close a connection's socket (from the loop)."""
        self.conns.pop(sock, None)
        if sock in self._unsubscribed:
            self._unsubscribed.discard(sock)
        elif self.eid >= 0:
            self.srt.epoll_remove(self.eid, sock)
        self.srt.close(sock)

    # ------------------------------------------------------------------ libsrt's thread

    def check_streamid(self, streamid: str) -> int | None:
        """The reject reason for a streamid, or None to accept (runs on libsrt's thread: reads only
        the immutable config)."""
        try:
            sid = parse_streamid(streamid, self.config.default_app)
        except ParseError:
            return SRT_REJX_BAD_REQUEST
        cfg = self.ctx.config
        v = cfg.vhost(sid.vhost or DEFAULT_VHOST) or cfg.vhost(DEFAULT_VHOST)
        if v is None or not v.enabled or not v.srt.enabled:
            return SRT_REJX_FORBIDDEN
        return None

    def _on_listen(self, _opaque: object, sock: int, _hsv: int, _peer: object, streamid: bytes | None) -> int:
        try:
            why = self.check_streamid((streamid or b"").decode("utf-8", "replace"))
        except Exception:  # nothing may escape into libsrt
            why = SRT_REJX_BAD_REQUEST
        if why is None:
            return 0
        self.rejected += 1
        self.srt.reject(sock, why)
        return -1

    def _run(self) -> None:
        srt, lib = self.srt, self.srt.lib
        events = (SrtEpollEvent * MAX_EVENTS)()
        buf = ctypes.create_string_buffer(RECV_BUF)
        while not self._stop.is_set():
            n = lib.srt_epoll_uwait(self.eid, events, MAX_EVENTS, WAIT_MS)
            if n <= 0:
                continue
            batch: list[Event] = []
            for i in range(min(n, MAX_EVENTS)):
                fd, ev = events[i].fd, events[i].events
                if fd == self.listener:
                    self._accept_all(batch)
                    continue
                msgs: list[bytes] = []
                broken = bool(ev & SRT_EPOLL_ERR)
                if ev & SRT_EPOLL_IN:
                    while True:
                        r = lib.srt_recvmsg(fd, buf, RECV_BUF)
                        if r > 0:
                            msgs.append(ctypes.string_at(buf, r))
                            continue
                        if r < 0 and srt.last_error() != SRT_EASYNCRCV:
                            broken = True
                        break
                if msgs:
                    batch.append(("data", fd, msgs, None))
                if broken:
                    srt.epoll_remove(self.eid, fd)  # reported once; the loop closes it
                    batch.append(("closed", fd, None, None))
            if batch:
                self.batches += 1
                try:
                    self.loop.call_soon_threadsafe(self._dispatch, batch)
                except RuntimeError:  # the loop is closed: we are stopping
                    return

    def _accept_all(self, batch: list[Event]) -> None:
        srt = self.srt
        while True:
            got = srt.accept(self.listener)
            if got is None:
                return
            sock, peer = got
            try:
                streamid = srt.streamid(sock)
                srt.epoll_add(self.eid, sock, SRT_EPOLL_IN | SRT_EPOLL_ERR)
            except libsrt.SrtError as e:
                log.warning("SRT accept failed: %s", e)
                srt.close(sock)
                continue
            batch.append(("accept", sock, peer, streamid))

    # ------------------------------------------------------------------ the loop

    def _dispatch(self, batch: list[Event]) -> None:
        from srs.server.srt.conn import SrtConnection

        for kind, sock, a, b in batch:
            if kind == "data":
                conn = self.conns.get(sock)
                if conn is not None:
                    conn.on_data(a)  # type: ignore[arg-type]
            elif kind == "accept":
                if self.ctx.closing or self._stop.is_set():
                    self.srt.close(sock)
                    continue
                conn = SrtConnection(self, sock, a, str(b))  # type: ignore[arg-type]
                self.conns[sock] = conn
                conn.start()
            elif kind == "closed":
                self._unsubscribed.add(sock)
                conn = self.conns.get(sock)
                if conn is not None:
                    conn.close("peer closed")
                else:
                    self._unsubscribed.discard(sock)
                    self.srt.close(sock)


def public_ip() -> str:
    """The first IPv4 of an interface up (SRS's order), else 127.0.0.1."""
    try:
        from srs.server.rtc.candidates import scan_interfaces

        v4 = [a.ip for a in scan_interfaces() if a.ipv4 and not a.loopback]
    except Exception:  # no interface information: never fatal
        v4 = []
    return v4[0] if v4 else "127.0.0.1"


def start_srt(ctx: ServerContext) -> SrtServer | None:
    """The SRT server when ``srt_server`` is on and libsrt loads; one clear line when it does not."""
    srt = libsrt.load()
    if srt is None:
        log.warning("SRT is off: libsrt not found (%s)", libsrt.INSTALL_HINT)
        return None
    server = SrtServer(ctx, srt)
    try:
        server.start()
    except (libsrt.SrtError, SrsError) as e:
        log.error("SRT is off: cannot listen on udp port %d: %s", ctx.config.srt_server.listen, e)
        return None
    return server
