"""The RTMP listener: one asyncio protocol per TCP connection around a sans-IO ServerSession.

The adapter reads bytes, feeds the session, dispatches its events and writes what it produced.
Policy steps that may need to wait (hooks and such, later) run in a task while reading is paused,
so events stay in order. Players are sinks of the shared fan-out: the Source hands them slices of
bytes already chunked for their chunk size, written with one ``writelines``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
from collections import deque
from collections.abc import Coroutine, Sequence
from typing import Any, cast

from srs.config import VhostConfig
from srs.media.consumer import Consumer
from srs.media.message import MediaMessage
from srs.media.source import Source
from srs.protocol.request import Request, parse_rtmp, unsafe_name
from srs.protocol.rtmp import events as ev
from srs.protocol.rtmp.server import ServerSession
from srs.remux.rtmp import RtmpWire, media_from_rtmp, metadata_from_values
from srs.server.context import ServerContext, now_ms
from srs.server.policy import Client
from srs.server.progress import WRITE_HIGH_WATER, SendProgress, reset
from srs.util.errors import ErrorCode, SrsError, StreamBusyError
from srs.util.log import context_id

log = logging.getLogger("srs")

REPUBLISH_WAIT_S = 180.0  # SRS waits 3 min on the connection for a republish / replay
TICK_S = 1.0


class RtmpPlaySink:
    """Delivers shared chunk bytes to one RTMP player."""

    __slots__ = ("conn",)

    def __init__(self, conn: RtmpConnection) -> None:
        self.conn = conn

    def choose_wire(self, first: Sequence[MediaMessage]) -> RtmpWire:
        # Players of the same chunk size share encoded bytes through the wire's key.
        return RtmpWire(self.conn.session.out_chunk_size)

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        return self.conn.write_media(bufs, nbytes)

    def writable(self) -> bool:
        t = self.conn.transport
        return t is not None and not t.is_closing() and t.get_write_buffer_size() < WRITE_HIGH_WATER

    def on_unpublish(self) -> None:
        """SRS compat: RTMP players stay connected and resume when the stream is republished."""

    def on_limit_reached(self) -> None:
        self.conn.close("play duration reached")


class RtmpConnection(asyncio.Protocol):
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.cid = ""
        self.ip = ""
        self.port = 0
        self.transport: asyncio.Transport | None = None
        self.session: ServerSession = None  # type: ignore[assignment]
        self._context = contextvars.copy_context()
        self._kind = ""
        self._pending: deque[ev.Event] = deque()
        self._busy = False
        self._closed = False
        self._connect: ev.ConnectRequested | None = None
        self.request: Request | None = None
        self.source: Source | None = None
        self.consumer: Consumer | None = None
        self.publishing = False
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._last_media_s = 0.0
        self._got_media = False
        self._publish_start_s = 0.0
        self._nodelay: bool | None = None  # vhost tcp_nodelay, applied after a player's first write
        self.client: Client | None = None  # the stream session the control plane knows
        self._error = False
        self.recv_bytes = 0
        self.send_bytes = 0
        self._progress = SendProgress()

    @property
    def kind(self) -> str:
        return self._kind

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._context.run(self._on_made)

    def _on_made(self) -> None:
        assert self.transport is not None
        peer = self.transport.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else ""
        self.port = int(peer[1]) if peer and len(peer) > 1 else 0
        self.cid = self.ctx.new_cid()
        context_id.set(self.cid)
        if not self.ip and self.ctx.config.empty_ip_ok:
            self._closed = True
            self.transport.abort()  # SRS compat: load-balancer probes are dropped silently
            return
        if not self.ctx.admit(self):
            log.warning(
                "drop client ip=%s: exceed max_connections=%d", self.ip, self.ctx.config.max_connections
            )
            self._closed = True
            self.transport.abort()
            return
        self.session = ServerSession(random_bytes=os.urandom, epoch_ms=now_ms(), budget=self.ctx.rtmp_budget)
        self._deadline = self.ctx.loop.time() + self.ctx.identify_timeout_s
        self._arm_timer(self.ctx.identify_timeout_s)
        log.debug("RTMP client ip=%s:%d", self.ip, self.port)

    def data_received(self, data: bytes) -> None:
        self._context.run(self._on_data, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._context.run(self._on_lost, exc)

    # ------------------------------------------------------------------ input

    def _on_data(self, data: bytes) -> None:
        if self._closed:
            return
        self.recv_bytes += len(data)
        try:
            self._pending.extend(self.session.receive_data(data))
            self._process()
        except SrsError as e:
            self._fail(e)
            return
        self._flush_session()

    def _process(self) -> None:
        while self._pending and not self._busy and not self._closed:
            e = self._pending.popleft()
            match e:
                case ev.MediaReceived():
                    self._on_media(e)
                case ev.MetadataReceived():
                    self._on_metadata(e)
                case ev.ConnectRequested():
                    self._on_connect(e)
                case ev.PlayRequested():
                    self._run(self._on_play(e))
                case ev.PublishRequested():
                    self._run(self._on_publish(e))
                case ev.UnpublishRequested():
                    self._stop_publish("unpublish")
                case ev.StreamClosed():
                    self._stop_publish("close stream")
                    self._stop_play("close stream")
                case ev.PauseRequested():
                    if self.consumer is not None:
                        self.consumer.pause(e.paused)
                case _:
                    pass

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a policy step that may wait; input stays paused (and ordered) until it is done."""
        assert self.transport is not None
        self._busy = True
        self.transport.pause_reading()
        task = self.ctx.loop.create_task(coro)
        task.add_done_callback(self._step_done)

    def _step_done(self, task: asyncio.Task[None]) -> None:
        self._context.run(self._after_step, task)

    def _after_step(self, task: asyncio.Task[None]) -> None:
        self._busy = False
        if self._closed:
            return
        exc = task.exception() if not task.cancelled() else None
        if isinstance(exc, SrsError):
            self._fail(exc)
            return
        if exc is not None:
            log.error("RTMP client failed: %r", exc, exc_info=exc)
            self.close("internal error")
            return
        try:
            self._process()
        except SrsError as e:
            self._fail(e)
            return
        self._flush_session()
        if self.transport is not None and not self._closed:
            self.transport.resume_reading()

    # ------------------------------------------------------------------ commands

    def _on_connect(self, e: ev.ConnectRequested) -> None:
        self._connect = e
        # The chunk size is the vhost's of the tcUrl (the final vhost may differ: ?vhost= in the
        # stream name comes later), as SRS does in service_cycle.
        req = parse_rtmp(e.tc_url, "", ip=self.ip)
        cfg = self.ctx.config
        v = cfg.vhost(req.vhost) or cfg.vhost("__defaultVhost__")
        chunk_size = v.chunk_size if v is not None else cfg.chunk_size
        out_ack = v.out_ack_size if v is not None else 2_500_000
        if v is not None and v.in_ack_size:
            self.session.in_ack_size = v.in_ack_size  # acknowledge even if the peer never sets a window
        sock = self.transport.get_extra_info("sockname") if self.transport else None
        server_ip = str(sock[0]) if sock else ""
        self.session.accept_connect(
            chunk_size=chunk_size,
            out_ack_size=out_ack,
            server_ip=server_ip,
            client_id=self.cid,
            pid=self.ctx.identity.pid,
        )
        self._pending.extend(self.session.pending_events())  # messages held until we answered

    def _request(self, stream_name: str) -> Request:
        c = self._connect
        if c is None:
            raise SrsError("play/publish before connect")
        return parse_rtmp(
            c.tc_url,
            stream_name,
            page_url=c.page_url,
            swf_url=c.swf_url,
            object_encoding=c.object_encoding,
            ip=self.session.proxy_ip or self.ip,
            args=c.args if isinstance(c.args, dict) else None,
        )

    def _set_nodelay(self, on: bool) -> None:
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if on else 0)
            except OSError:
                pass

    def _identify(self, stream_name: str, kind: str) -> tuple[Request, VhostConfig]:
        """Resolve the request and its vhost (SRS: NoVhost / disabled vhost reject the client)."""
        req = self._request(stream_name)
        if not req.stream:
            raise SrsError("empty stream name", ErrorCode.RTMP_STREAM_NAME_EMPTY)
        why = unsafe_name(req.app, req.stream)
        if why is not None:
            # Ours: names become file paths (HLS, DVR); say why before closing, as for a busy stream.
            code = "NetStream.Publish.BadName" if kind != "rtmp-play" else "NetStream.Play.StreamNotFound"
            self.session.send_status("error", code, f"Invalid name: {why}")
            self._flush_session()
            raise SrsError(f"refused: {why}", ErrorCode.RTMP_STREAM_NAME_EMPTY)
        vhost = self.ctx.resolve_vhost(req.vhost)
        req = req.with_vhost(vhost.name)
        self.request = req
        self._kind = kind
        self.ctx.identified(self)  # from now on kept when the server is full (ServerContext.admit)
        # The socket keeps TCP_NODELAY until a player's first media write or a publisher's
        # Publish.Start: with Nagle on, those would wait for the ACK of the replies before them
        # (a 40 ms delayed ACK). From then on the vhost's tcp_nodelay applies.
        self._nodelay = vhost.tcp_nodelay
        return req, vhost

    async def _admit(self, req: Request, kind: str) -> Client:
        """SRS order: on_connect (refer.all + hook, at every play/publish cycle), then security.

        From here on the connection has a client: on_close fires when it ends, even if this client
        is refused (SRS calls on_close for every connection that sent play/publish).
        """
        client = Client(self, req, kind)
        self.client = client
        policy = self.ctx.policy
        await policy.on_connect(client)
        policy.check_security(client)
        return client

    def _check_alive(self, step: str) -> None:
        """After a policy step that waited (a hook): a kick or shutdown may have closed us meanwhile;
        going on would leave a publisher or player attached to the source for good."""
        if self._closed:
            raise SrsError(f"connection closed while {step} ran")

    async def _on_play(self, e: ev.PlayRequested) -> None:
        self._disarm_timer()  # identified: from here only the hooks' own timeout bounds the wait
        req, vhost = self._identify(e.stream_name, "rtmp-play")
        client = await self._admit(req, "rtmp-play")
        self._check_alive("on_connect")
        self.session.start_play()
        self._pending.extend(self.session.pending_events())
        # SRS compat: Play.Start goes out before the on_play hook; a rejected player sees it and
        # then the close.
        self._flush_session()
        policy = self.ctx.policy
        policy.on_client(client)
        await policy.on_play(client)
        self._check_alive("on_play")
        src = self.ctx.registry.fetch_or_create(req.stream_url, vhost.name)
        self.source = src
        self.consumer = src.create_consumer(RtmpPlaySink(self))
        if e.duration > 0:
            self.consumer.set_duration_limit(int(e.duration))
        self._disarm_timer()
        log.info(
            "RTMP play ip=%s url=%s vhost=%s param=%s", req.ip, req.stream_url, vhost.name, req.param or "-"
        )

    async def _on_publish(self, e: ev.PublishRequested) -> None:
        self._disarm_timer()  # identified: from here only the hooks' own timeout bounds the wait
        req, vhost = self._identify(e.stream_name, str(e.client_type))
        client = await self._admit(req, self._kind)
        self._check_alive("on_connect")
        policy = self.ctx.policy
        policy.on_client(client)
        await policy.on_publish(client)  # a rejected publisher leaves no source behind
        self._check_alive("on_publish")
        src = self.ctx.registry.fetch_or_create(req.stream_url, vhost.name)
        try:
            src.publish(self)
        except StreamBusyError as busy:
            # SRS closes the connection (1028); we say why first, so ffmpeg/OBS print a clear reason.
            self.session.send_status(
                "error", "NetStream.Publish.BadName", f"Stream {req.stream_url} is busy (1028)"
            )
            self._flush_session()
            raise busy
        self.source = src
        self.publishing = True
        policy.on_stream_publish(client, src)
        self.ctx.publishing(src, vhost, req)
        self._got_media = False
        self._publish_start_s = self.ctx.loop.time()
        self.session.accept_publish()
        self._pending.extend(self.session.pending_events())
        self._flush_session()
        if self._nodelay is not None:
            self._set_nodelay(self._nodelay)
            self._nodelay = None
        self._disarm_timer()
        self._arm_timer(TICK_S)
        log.info(
            "RTMP publish ip=%s url=%s type=%s param=%s", req.ip, req.stream_url, self._kind, req.param or "-"
        )

    # ------------------------------------------------------------------ media in

    def _on_media(self, e: ev.MediaReceived) -> None:
        src = self.source
        if not self.publishing or src is None:
            return
        msg = media_from_rtmp(e.msg_type, e.timestamp, e.payload)
        if msg is not None:
            self._got_media = True
            self._last_media_s = self.ctx.loop.time()
            src.on_message(msg)

    def _on_metadata(self, e: ev.MetadataReceived) -> None:
        src = self.source
        if not self.publishing or src is None or e.name != "onMetaData":
            return
        got = metadata_from_values(e.timestamp, list(e.values))
        if got is not None:
            msg, bravo_atc = got
            src.on_metadata(msg, bravo_atc=bravo_atc)

    # ------------------------------------------------------------------ output

    def _flush_session(self) -> None:
        if self.transport is None or self._closed:
            return
        out = self.session.data_to_send()
        if out:
            self.send_bytes += sum(map(len, out))
            self.transport.writelines(out)

    def write_media(self, bufs: list[bytes], nbytes: int) -> bool:
        """Write shared media bytes; returns whether the transport can take more."""
        t = self.transport
        if t is None or self._closed or t.is_closing():
            return False
        session = self.session
        if session.has_data_to_send:
            out = session.data_to_send()
            bufs = out + bufs  # one writev: replies and media in one segment (bufs is shared)
            nbytes += sum(map(len, out))
        self.send_bytes += nbytes
        t.writelines(bufs)
        if self._nodelay is not None:
            self._set_nodelay(self._nodelay)  # the vhost's tcp_nodelay, from now on
            self._nodelay = None
        buffered = t.get_write_buffer_size()
        if buffered:
            self.ctx.watch(self)  # the kernel did not take it all: mind the send timeout
        return buffered < WRITE_HIGH_WATER

    # ------------------------------------------------------------------ stop / close

    def _stop_publish(self, why: str) -> None:
        if self.publishing and self.source is not None:
            self.publishing = False
            src, self.source = self.source, None
            src.unpublish(self)
            log.info("RTMP unpublish url=%s (%s)", src.url, why)
            if self.client is not None:
                self.ctx.policy.on_stream_close(self.client, src)
                self.ctx.policy.on_unpublish(self.client)
            self._disarm_timer()
            self._deadline = self.ctx.loop.time() + REPUBLISH_WAIT_S
            self._arm_timer(REPUBLISH_WAIT_S)

    def _stop_play(self, why: str) -> None:
        if self.consumer is not None:
            c, self.consumer = self.consumer, None
            c.close()
            self.source = None
            log.info("RTMP stop play (%s)", why)
            if self.client is not None:
                self.ctx.policy.on_stop(self.client)
            self._deadline = self.ctx.loop.time() + REPUBLISH_WAIT_S
            self._arm_timer(REPUBLISH_WAIT_S)

    def _fail(self, e: SrsError) -> None:
        log.warning("RTMP client ip=%s closed: %s", self.ip, e)
        self._error = True
        self.close(str(e))

    def close(self, reason: str) -> None:
        """Close now (kick, shutdown, policy); logs carry this connection's id whoever calls."""
        if self._closed:
            return
        if context_id.get() != self.cid:
            self._context.run(self._close, reason)
        else:
            self._close(reason)

    def _close(self, reason: str) -> None:
        self._closed = True
        self._cleanup(reason, self._error)
        if self.transport is not None:
            self._flush_session_raw()
            self.transport.close()

    def _flush_session_raw(self) -> None:
        if self.transport is not None and self.session is not None:
            out = self.session.data_to_send()
            if out:
                self.send_bytes += sum(map(len, out))
                self.transport.writelines(out)

    def _cleanup(self, reason: str, error: bool = False) -> None:
        if self.session is not None:
            self.session.release()  # partial messages go back to the shared budget
        self._disarm_timer()
        self._stop_publish(reason)
        self._stop_play(reason)
        self._disarm_timer()
        client = self.client
        if client is not None:
            self.ctx.policy.on_close(client)
            self.ctx.policy.on_disconnect(client, error)
        self.ctx.forget(self)

    def _on_lost(self, exc: Exception | None) -> None:
        if not self._closed:
            self._closed = True
            self._cleanup("peer closed")
        log.debug("RTMP client ip=%s gone, recv=%d", self.ip, self.recv_bytes)
        self.transport = None

    def restart_watch(self, now: float) -> None:
        self._progress.restart(now)

    def check(self, now: float) -> bool:
        """SRS's send timeout: a connection whose writes made no progress for 30 s is ended."""
        t = self.transport
        if self._closed or t is None:
            return False
        buffered = t.get_write_buffer_size()
        if self._progress.stalled(now, self.send_bytes, buffered, self.ctx.send_timeout_s, WRITE_HIGH_WATER):
            why = SrsError(f"send timeout: no progress for {self.ctx.send_timeout_s:g} s")
            reset(t)  # close() would wait for the peer to read what is buffered: drop it
            self._context.run(self._fail, why)
            return False
        return buffered > 0

    # ------------------------------------------------------------------ timer

    def _arm_timer(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.ctx.loop.call_later(delay, self._on_timer)

    def _disarm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._context.run(self._check_timeouts)

    def _check_timeouts(self) -> None:
        self._timer = None
        if self._closed:
            return
        now = self.ctx.loop.time()
        if self.publishing and self.request is not None:
            v = self.ctx.config.vhost(self.request.vhost)
            first_ms = v.publish.firstpkt_timeout_ms if v else 20_000
            normal_ms = v.publish.normal_timeout_ms if v else 5_000
            if not self._got_media and now - self._publish_start_s > first_ms / 1000:
                self._fail(SrsError(f"publish timeout: no media in {first_ms} ms"))
                return
            if self._got_media and now - self._last_media_s > normal_ms / 1000:
                self._fail(SrsError(f"publish timeout: idle for {normal_ms} ms"))
                return
            self._arm_timer(TICK_S)
            return
        if self.consumer is None and now >= self._deadline:
            self._fail(SrsError("timeout waiting for client to play or publish"))
            return
        if self.consumer is None:
            self._arm_timer(max(0.1, self._deadline - now))


async def serve_rtmp(ctx: ServerContext, host: str, port: int) -> asyncio.Server:
    """Listen for RTMP on ``host:port`` (``host`` "" = all IPv4 interfaces, as SRS)."""
    return await ctx.loop.create_server(
        lambda: RtmpConnection(ctx),
        host=host or "0.0.0.0",
        port=port,
        reuse_address=True,
        backlog=1024,
    )
