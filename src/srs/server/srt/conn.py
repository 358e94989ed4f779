"""One SRT connection: a publisher (``m=publish``: MPEG-TS in) or a player (``m=request``: MPEG-TS out).

SRS's order (``SrsMpegtsSrtConn::do_cycle``): streamid -> request, vhost ``srt`` on, on_connect
hook; then stats registration, security, on_publish / on_play; a publisher acquires the stream
(busy -> closed) and its messages go to the live Source (``srt_to_rtmp on``: the outputs HLS/DVR
start too, RTMP/HTTP-FLV players see the stream); on_unpublish / on_stop and on_close at the end.

A publisher's payload must be whole TS packets (SRS: a message whose size is not a multiple of 188
or that does not start with 0x47 closes the connection). :class:`srs.remux.ts_in.TsIngest` turns it
into MediaMessages. What arrives while the hooks run is kept (up to :data:`PENDING_MAX` bytes).

A player is a consumer whose wire is :class:`srs.remux.ts.TsWire` (the bytes HTTP-TS players get),
sent in 1316-byte (7 x 188) messages. Where we differ: SRS plays only what an SRT publisher sent
(its SRT source); ours plays any live stream (RTMP, WebRTC, SRT publishers) and, as an RTMP player,
stays for a republish when the publisher leaves. Idle peers are dropped by libsrt
(``peer_idle_timeout``), which reports the socket broken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from srs.media.consumer import NOT_YET, Consumer, NotYet
from srs.media.message import MediaMessage, WireFormat
from srs.protocol.request import DEFAULT_VHOST, Request, unsafe_name
from srs.protocol.srt.streamid import StreamId, parse_streamid
from srs.remux.ts import TsWire, settle_stream_types
from srs.server.policy import Client
from srs.util.errors import ErrorCode, SrsError
from srs.util.log import context_id

if TYPE_CHECKING:
    from srs.media.source import Source
    from srs.remux.ts_in import TsIngest
    from srs.server.srt.server import SrtServer

log = logging.getLogger("srs")

TS_PACKET = 188
CHUNK = 7 * TS_PACKET  # 1316: one SRT live message
PENDING_MAX = 4 * 1024 * 1024


class ChunkCut:
    """TS bytes cut into SRT messages of :data:`CHUNK` bytes (the last one shorter), one per server.

    The Source hands the same ``bufs`` list to every player at the same position of the same wire
    (and never mutates it), so the cut of the last list is kept: the players after the first one
    of a flush send the same chunk objects without joining or copying anything.
    """

    __slots__ = ("_bufs", "_chunks")

    def __init__(self) -> None:
        self._bufs: list[bytes] | None = None
        self._chunks: list[bytes] = []

    def cut(self, bufs: list[bytes]) -> list[bytes]:
        if bufs is self._bufs:
            return self._chunks
        data = bufs[0] if len(bufs) == 1 else b"".join(bufs)
        if len(data) <= CHUNK:
            chunks = [data]
        else:
            view = memoryview(data)
            chunks = [bytes(view[i : i + CHUNK]) for i in range(0, len(data), CHUNK)]
        self._bufs, self._chunks = bufs, chunks
        return chunks


class SrtPlaySink:
    """An SRT player as a consumer sink: TS bytes cut into 1316-byte ``srt_sendmsg`` calls."""

    __slots__ = ("conn", "dropped")

    def __init__(self, conn: SrtConnection) -> None:
        self.conn = conn
        self.dropped = 0

    def choose_wire(self, first: Sequence[MediaMessage]) -> WireFormat | NotYet | None:
        types = settle_stream_types(first)
        if types is None:
            return NOT_YET  # the PMT is written once: wait until both kinds are known
        video, audio = types
        if video is None and audio is None:
            return None
        return TsWire(video, audio)

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        conn = self.conn
        if conn.closed or nbytes == 0:
            return not conn.closed
        send = conn.server.srt.lib.srt_sendmsg
        sock = conn.sock
        sent = 0
        for chunk in conn.server.chunks.cut(bufs):
            if send(sock, chunk, len(chunk), -1, 1) < 0:
                self.dropped += 1  # EASYNCSND (send buffer full) or a broken socket
            else:
                sent += len(chunk)
        conn.send_bytes += sent
        return True

    def writable(self) -> bool:
        return not self.conn.closed

    def on_unpublish(self) -> None:
        pass  # as an RTMP player: the SRT player stays for a republish

    def on_limit_reached(self) -> None:
        self.conn.close("duration reached")


class SrtConnection:
    """The connection record (ctx.connections: stats, kicks, max_connections) of one SRT peer."""

    def __init__(self, server: SrtServer, sock: int, peer: tuple[str, int], streamid: str) -> None:
        self.server = server
        self.ctx = server.ctx
        self.sock = sock
        self.ip, self.port = peer
        self.streamid = streamid
        self.cid = self.ctx.new_cid()
        self.send_bytes = 0
        self.recv_bytes = 0
        self.closed = False
        self._kind = ""
        self.done: asyncio.Future[str] = server.loop.create_future()
        self.client: Client | None = None
        self.source: Source | None = None
        self.consumer: Consumer | None = None
        self.publishing = False
        self.ingest: TsIngest | None = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.messages = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def kind(self) -> str:
        return self._kind

    def start(self) -> None:
        self._task = self.server.loop.create_task(self._run(), name=f"srt-{self.cid}")

    def close(self, reason: str) -> None:
        if not self.done.done():
            self.done.set_result(reason)
        if self._task is None:
            self._finish(reason)

    # ------------------------------------------------------------------ lifetime

    async def _run(self) -> None:
        context_id.set(self.cid)
        ctx = self.ctx
        reason = "closed"
        error = False
        registered = False
        try:
            sid = parse_streamid(self.streamid, self.server.config.default_app)
            req, vhost_name = self._request(sid)
            if not ctx.admit(self, anonymous=False):
                raise SrsError("exceed max_connections", ErrorCode.EXCEED_CONNECTIONS)
            self._kind = "srt-publish" if sid.publish else "srt-play"
            client = self.client = Client(self, req, self._kind)
            policy = ctx.policy
            log.info(
                "SRT client ip=%s:%d streamid=%s url=%s %s",
                self.ip,
                self.port,
                self.streamid,
                req.stream_url,
                self._kind,
            )
            await policy.on_connect(client)
            self._alive("on_connect")
            policy.on_client(client)
            registered = True
            policy.check_security(client)
            if sid.publish:
                await policy.on_publish(client)
                self._alive("on_publish")
                self._start_publish(req, vhost_name)
            else:
                await policy.on_play(client)
                self._alive("on_play")
                src = ctx.registry.fetch_or_create(req.stream_url, vhost_name)
                self.source = src
                self.consumer = src.create_consumer(SrtPlaySink(self))
                log.info("SRT play ip=%s url=%s param=%s", self.ip, req.stream_url, req.param or "-")
            reason = await self.done
        except SrsError as e:
            error = True
            reason = str(e)
            log.warning("SRT client ip=%s:%d closed: %s", self.ip, self.port, e)
        except Exception:  # a bug must not leave the socket open
            error = True
            reason = "internal error"
            log.exception("SRT client ip=%s failed", self.ip)
        finally:
            self._finish(reason, error, registered)

    def _alive(self, step: str) -> None:
        if self.done.done():
            raise SrsError(f"connection closed while {step} ran")

    def _request(self, sid: StreamId) -> tuple[Request, str]:
        vhost = self.ctx.resolve_vhost(sid.vhost or DEFAULT_VHOST)
        if not vhost.srt.enabled:
            raise SrsError(f"srt disabled, vhost={vhost.name}")
        why = unsafe_name(sid.app, sid.stream)
        if why is not None:
            raise SrsError(f"refused: {why}")
        host = self.server.public_ip
        req = Request(
            vhost=vhost.name,
            app=sid.app,
            stream=sid.stream,
            param=sid.param,
            tc_url=f"srt://{sid.vhost or host}/{sid.app}",  # SRS: srs_generate_tc_url("srt", ...)
            schema="srt",
            host=host,
            port=self.server.port,
            ip=self.ip,
        )
        return req, vhost.name

    def _start_publish(self, req: Request, vhost_name: str) -> None:
        from srs.remux.ts_in import TsIngest

        ctx = self.ctx
        vhost = ctx.resolve_vhost(vhost_name)
        src = ctx.registry.fetch_or_create(req.stream_url, vhost_name)
        src.publish(self)  # StreamBusyError (1028) when taken
        self.source = src
        self.publishing = True
        self.ingest = TsIngest()
        assert self.client is not None
        ctx.policy.on_stream_publish(self.client, src)
        if vhost.srt.srt_to_rtmp:
            ctx.publishing(src, vhost, req)
        log.info("SRT publish ip=%s url=%s param=%s", self.ip, req.stream_url, req.param or "-")
        pending, self._pending = self._pending, []
        self._pending_bytes = 0
        if pending:
            self._ingest(pending)

    def _finish(self, reason: str, error: bool = False, registered: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        ctx = self.ctx
        policy = ctx.policy
        client = self.client
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
            if client is not None:
                policy.on_stop(client)
            url = client.request.stream_url if client is not None else "-"
            log.info("SRT stop play ip=%s url=%s (%s) sent=%d", self.ip, url, reason, self.send_bytes)
        src = self.source
        if self.publishing and src is not None:
            try:
                if self.ingest is not None:
                    for m in self.ingest.flush():
                        src.on_message(m)
            finally:
                self.publishing = False
                src.unpublish(self)
                log.info("SRT unpublish url=%s (%s) messages=%d", src.url, reason, self.messages)
                if client is not None:
                    policy.on_stream_close(client, src)
                    policy.on_unpublish(client)
        self.source = None
        if client is not None:
            policy.on_close(client)
            if registered:
                policy.on_disconnect(client, error)
        ctx.forget(self)
        self.server.release(self.sock)

    # ------------------------------------------------------------------ data in

    def on_data(self, msgs: list[bytes]) -> None:
        """Messages libsrt delivered (on the loop, one batch per epoll wakeup)."""
        if self.closed:
            return
        self.recv_bytes += sum(map(len, msgs))
        if self.publishing:
            self._ingest(msgs)
        elif self._kind != "srt-play":
            self._pending.extend(msgs)
            self._pending_bytes += sum(map(len, msgs))
            if self._pending_bytes > PENDING_MAX:
                self._pending = []
                self._pending_bytes = 0

    def _ingest(self, msgs: list[bytes]) -> None:
        for m in msgs:
            if len(m) % TS_PACKET or m[0] != 0x47:
                why = f"invalid ts packet len={len(m)} first={m[0]:#x}"
                log.warning("SRT client ip=%s:%d closed: %s", self.ip, self.port, why)
                self.close(why)
                return
        src = self.source
        if src is None or self.ingest is None:
            return
        out = self.ingest.feed(b"".join(msgs))
        for msg in out:
            src.on_message(msg)
        self.messages += len(out)
