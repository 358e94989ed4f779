"""HTTP-FLV and HTTP-TS live streaming: a chunked ``video/x-flv`` / ``video/MP2T`` response fed by
the shared fan-out.

After aiohttp has sent the response headers, the player's batches go straight to the transport
as HTTP/1.1 chunks (``writelines`` of the chunk-size line, the shared FLV tag bytes and CRLF): no
copy, no per-message Python work. The response ends cleanly (terminating chunk) when the
publisher leaves, when the player is kicked, or at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from aiohttp import web

from srs.config import HttpRemuxConfig
from srs.format.flv import AudioCodec
from srs.media.consumer import NOT_YET, NotYet
from srs.media.message import AUDIO, MediaMessage, WireFormat
from srs.protocol.request import parse_http, unsafe_name
from srs.remux.audio import AacWire, Mp3Wire
from srs.remux.flv import GUESS_WAIT_MS, FlvWire, guess_av
from srs.remux.ts import TsWire, settle_stream_types
from srs.server.context import ServerContext
from srs.server.forwarded import client_address
from srs.server.mounts import MountMatch
from srs.server.policy import Client
from srs.server.progress import WRITE_HIGH_WATER, SendProgress, reset
from srs.util.errors import SrsError
from srs.util.log import context_id

log = logging.getLogger("srs")

_CRLF = b"\r\n"


class HttpFlvSink:
    """One HTTP-FLV player as a consumer sink."""

    __slots__ = ("backlog", "done", "nodelay", "remux", "sent", "tls", "transport")

    def __init__(
        self, transport: asyncio.Transport, remux: HttpRemuxConfig, done: asyncio.Future[str], nodelay: bool
    ) -> None:
        self.transport = transport
        self.remux = remux
        self.done = done
        self.sent = 0
        self.backlog: Callable[[], None] | None = None  # called when a write left bytes buffered
        self.nodelay: bool | None = nodelay  # vhost tcp_nodelay, applied after the first write
        # Over TLS each buffer of a writelines becomes its own record: join the batch instead.
        self.tls = transport.get_extra_info("ssl_object") is not None

    def choose_wire(self, first: Sequence[MediaMessage]) -> WireFormat | NotYet | None:
        r = self.remux
        flags = guess_av(first, has_audio=r.has_audio, has_video=r.has_video, guess=r.guess_has_av)
        if flags is None:
            return NOT_YET  # a kind has its sequence header but no frames yet: wait a little
        has_audio, has_video = flags
        if not has_audio and not has_video:
            return None  # SRS compat: no header (and no data) until there is audio or video
        # Players with the same flags share encoded tags through the wire's key.
        return FlvWire(has_audio, has_video, r.drop_if_not_match)

    def write(self, bufs: list[bytes], nbytes: int) -> bool:
        """One HTTP/1.1 chunk per batch; returns whether the transport can take more."""
        t = self.transport
        if t.is_closing():
            return False
        if nbytes == 0:
            return True
        self.sent += nbytes
        if self.tls:
            t.write(b"".join([b"%x\r\n" % nbytes, *bufs, _CRLF]))
        else:
            t.writelines([b"%x\r\n" % nbytes, *bufs, _CRLF])
        if self.nodelay is not None:
            # Until now the socket kept TCP_NODELAY so the first tags did not wait behind the
            # response headers for an ACK; from here on the vhost's setting applies.
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.nodelay else 0)
            self.nodelay = None
        buffered = t.get_write_buffer_size()
        if buffered and self.backlog is not None:
            self.backlog()  # the kernel did not take it all: mind the send timeout
        return buffered < WRITE_HIGH_WATER

    def writable(self) -> bool:
        t = self.transport
        return not t.is_closing() and t.get_write_buffer_size() < WRITE_HIGH_WATER

    def on_unpublish(self) -> None:
        if not self.done.done():
            self.done.set_result("unpublished")

    def on_limit_reached(self) -> None:
        if not self.done.done():
            self.done.set_result("limit")


class HttpTsSink(HttpFlvSink):
    """One HTTP-TS player (``http_remux`` mount ending in ``.ts``): MPEG-TS of the live stream."""

    __slots__ = ()

    def choose_wire(self, first: Sequence[MediaMessage]) -> WireFormat | NotYet | None:
        r = self.remux
        flags = guess_av(first, has_audio=r.has_audio, has_video=r.has_video, guess=r.guess_has_av)
        if flags is None:
            return NOT_YET
        types = settle_stream_types(first)
        if types is None:
            return NOT_YET  # the PMT is written once: wait until both kinds are known
        video, audio = types
        has_audio, has_video = flags
        video = video if has_video else None
        audio = audio if has_audio else None
        if video is None and audio is None:
            return None  # nothing TS can carry (yet): as HTTP-FLV, no header and no data
        return TsWire(video, audio)


class HttpAacSink(HttpFlvSink):
    """One HTTP-AAC player (mount ending in ``.aac``): the stream's AAC as ADTS."""

    __slots__ = ()

    def choose_wire(self, first: Sequence[MediaMessage]) -> WireFormat | NotYet | None:
        return _audio_wire(first, AudioCodec.AAC, AacWire)


class HttpMp3Sink(HttpFlvSink):
    """One HTTP-MP3 player (mount ending in ``.mp3``): the stream's MP3 frames."""

    __slots__ = ()

    def choose_wire(self, first: Sequence[MediaMessage]) -> WireFormat | NotYet | None:
        return _audio_wire(first, AudioCodec.MP3, Mp3Wire)


def _audio_wire(
    first: Sequence[MediaMessage], codec: int, make: Callable[[], WireFormat]
) -> WireFormat | NotYet | None:
    """Wait for the stream's audio (up to a second of media); no data at all if it is another
    codec (SRS: "mp3 required") or there is none."""
    for m in first:
        if m.kind == AUDIO:
            return make() if m.codec == codec else None
    stamps = [m.timestamp for m in first if m.is_av]
    if stamps and stamps[-1] - stamps[0] >= GUESS_WAIT_MS:
        return None
    return NOT_YET


# extension -> (sink, content type, log label); SRS's content types.
FORMATS: dict[str, tuple[type[HttpFlvSink], str, str]] = {
    ".flv": (HttpFlvSink, "video/x-flv", "HTTP-FLV"),
    ".ts": (HttpTsSink, "video/MP2T", "HTTP-TS"),
    ".aac": (HttpAacSink, "audio/x-aac", "HTTP-AAC"),
    ".mp3": (HttpMp3Sink, "audio/mpeg", "HTTP-MP3"),
}


class FlvPlayer:
    """The connection record of an HTTP-FLV player (for max_connections, kicks, shutdown, stats)."""

    def __init__(self, cid: str, ip: str, done: asyncio.Future[str], send_timeout_s: float) -> None:
        self.cid = cid
        self.ip = ip
        self._done = done
        self.sink: HttpFlvSink | None = None
        self.recv_bytes = 0
        self._send_timeout_s = send_timeout_s
        self._progress = SendProgress(asyncio.get_running_loop().time())

    @property
    def kind(self) -> str:
        return "flv-play"

    @property
    def send_bytes(self) -> int:
        return self.sink.sent if self.sink is not None else 0

    def close(self, reason: str) -> None:
        if not self._done.done():
            self._done.set_result(reason)

    def restart_watch(self, now: float) -> None:
        self._progress.restart(now)

    def check(self, now: float) -> bool:
        """SRS's send timeout: a player whose writes made no progress for 30 s is ended."""
        sink = self.sink
        if sink is None or self._done.done():
            return False
        t = sink.transport
        buffered = t.get_write_buffer_size()
        if self._progress.stalled(now, sink.sent, buffered, self._send_timeout_s, WRITE_HIGH_WATER):
            log.warning(
                "HTTP-FLV client ip=%s closed: send timeout, no progress for %g s",
                self.ip,
                self._send_timeout_s,
            )
            reset(t)  # close() would wait for the peer to read what is buffered: drop it
            self.close("send timeout")
            return False
        return buffered > 0


def client_ip(request: web.Request, ctx: ServerContext) -> str:
    """The TCP peer, as SRS; a forwarded address only from ``trusted_proxies`` (server/forwarded.py)."""
    peer_info = request.transport.get_extra_info("peername") if request.transport else None
    peer = str(peer_info[0]) if peer_info else ""
    h = request.headers
    return client_address(
        peer, h.get("X-Forwarded-For", ""), h.get("X-Real-IP", ""), ctx.config.trusted_proxies
    )


def _reject(request: web.Request, why: SrsError) -> web.HTTPException:
    """SRS compat: a rejected HTTP player gets no response, the connection is just closed."""
    log.warning("HTTP-FLV client rejected: %s", why)
    if request.transport is not None:
        request.transport.close()
    return web.HTTPForbidden()


async def serve_flv(request: web.Request, ctx: ServerContext, found: MountMatch) -> web.StreamResponse:
    """An HTTP live stream of ``found``: FLV or TS, by the mount's extension (:data:`FORMATS`)."""
    sink_class, content_type, label = FORMATS[found.extension]
    ip = client_ip(request, ctx)
    cid = ctx.new_cid()
    context_id.set(cid)
    req = parse_http(
        request.host, request.path, request.query_string, app=found.app, stream=found.stream, ip=ip
    )
    vhost = found.vhost
    # SRS: the Referer header is the pageUrl of an HTTP player (the on_play hook reports it).
    req = replace(req.with_vhost(vhost.name), page_url=request.headers.get("Referer", ""))
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()
    player = FlvPlayer(cid, ip, done, ctx.send_timeout_s)
    player.recv_bytes = len(request.raw_path) + sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
    why = unsafe_name(req.app, req.stream)
    if why is not None:
        log.warning("%s client ip=%s refused: %s", label, ip, why)
        raise web.HTTPBadRequest(
            text=json.dumps({"code": 400, "reason": why}), content_type="application/json"
        )
    # The player takes the place of its HTTP connection in the table (it was counted when accepted).
    undo = ctx.http_conns.stream(request.protocol, player) if ctx.http_conns is not None else None
    if undo is None:
        if not ctx.admit(player, anonymous=False):
            log.warning("drop HTTP-FLV client ip=%s: exceed max_connections", ip)
            raise web.HTTPServiceUnavailable(text='{"code":1074}', content_type="application/json")
        undo = partial(ctx.forget, player)
    policy = ctx.policy
    client = Client(player, req, "flv-play")
    registered = False
    error = False
    try:
        try:
            # SRS order for HTTP players: stats registration, then security, then the on_play hook.
            policy.on_client(client)
            registered = True
            policy.check_security(client)
            await policy.on_play(client)
        except SrsError as e:
            error = True
            raise _reject(request, e) from None
        resp = web.StreamResponse(status=200)
        resp.content_type = content_type
        resp.enable_chunked_encoding()
        resp.force_close()
        await resp.prepare(request)
        transport = request.transport
        if transport is None or transport.is_closing():
            return resp
        src = ctx.registry.fetch_or_create(req.stream_url, vhost.name)
        sink = player.sink = sink_class(transport, vhost.http_remux, done, vhost.tcp_nodelay)
        sink.backlog = partial(ctx.watch, player)
        consumer = src.create_consumer(sink)
        log.info("%s play ip=%s url=%s param=%s", label, ip, req.stream_url, req.param or "-")
        reason = "client closed"
        try:
            reason = await done
        finally:
            consumer.close()
            policy.on_stop(client)
            log.info("%s stop ip=%s url=%s (%s) sent=%d", label, ip, req.stream_url, reason, sink.sent)
        if not transport.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                await resp.write_eof()
        return resp
    finally:
        undo()
        if registered:
            policy.on_disconnect(client, error)
