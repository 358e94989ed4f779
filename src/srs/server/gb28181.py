"""GB28181 caster (``stream_caster { caster gb28181; output ...; listen 9000; sip {...} }``): the media side.

As SRS 7 has it (``srs_app_gb28181.cpp``; SRS 7.0.75 removed the embedded SIP server, PR #4466, and an
external SIP server such as ossrs/srs-sip does the signalling):

* the SIP server calls ``POST /gb/v1/publish/`` with JSON ``{"id": "<device/channel id>", "ssrc":
  "<ssrc>"}`` (both strings) and gets ``{"code": 0, "port": <listen>, "is_tcp": true}``; an ``id`` or
  ``ssrc`` already bound answers ``{"code": 1028, "desc": ...}``, a body without them ``code`` 3008.
  It then INVITEs the device to send its media to that port with that SSRC;
* the device connects to ``listen`` (TCP) and sends RTP (RFC 4571: a 2-byte length before each packet)
  carrying MPEG-PS; RTCP is dropped; the SSRC of the first RTP packet finds the binding, packets of an
  unknown SSRC are ignored (SRS: "no session");
* the stream is ``output`` with ``[stream]`` replaced by the id (``rtmp://127.0.0.1/live/[stream]`` ->
  ``live/<id>``). SRS publishes it over an RTMP client to that URL (so it appears as ``flash-publish``
  from 127.0.0.1); we publish into the Source directly, as the other casters do
  (:class:`srs.server.casters.CasterStream`: the same client type, the device's address, the
  on_publish/on_unpublish hooks, stats and kick, ``DELETE /api/v1/clients/<id>``).

Where we differ: a device may reconnect with the same SSRC (SRS keeps API sessions forever); a binding
whose media is gone is forgotten after ``sip.timeout`` seconds (default 60), so the SIP server can
publish that id again; re-posting the same ``{id, ssrc}`` is accepted; a numeric ``ssrc`` is accepted
as well as a string. The embedded SIP server of SRS 5/6 (``sip { enabled on; listen 5060; }``) is not
implemented: the ``sip`` block is read and ignored, with a note at startup. The media connection ends
when no media came for the vhost's ``publish.normal_timeout`` (``firstpkt_timeout`` before the first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import cast

from aiohttp import web

from srs.config import StreamCasterConfig, VhostConfig
from srs.remux.gb_in import GbIngest, parse_rtp
from srs.server.casters import Caster, CasterStream
from srs.server.context import ServerContext
from srs.server.http import CTX
from srs.util.errors import ErrorCode, SrsError, StreamBusyError
from srs.util.log import context_id

log = logging.getLogger("srs")

PUBLISH_PATH = "/gb/v1/publish/"
TICK_S = 1.0
FIRST_TIMEOUT_S = 20.0  # a media connection that never names a bound SSRC


@dataclass(slots=True)
class Binding:
    """One ``/gb/v1/publish/`` call: the device id (stream name) and the SSRC it will send."""

    id: str
    ssrc: int
    conn: GbMediaConn | None = None
    gone_at: float = 0.0  # loop time the media left (or the binding was made), while no media


class GbCaster(Caster):
    """The media listener, the SSRC bindings and the API handler's state of one ``gb28181`` caster."""

    def __init__(self, ctx: ServerContext, cfg: StreamCasterConfig) -> None:
        self.ctx = ctx
        self.cfg = self.config = cfg
        self.by_id: dict[str, Binding] = {}
        self.by_ssrc: dict[int, Binding] = {}
        self._port = cfg.listen
        self.conns: set[GbMediaConn] = set()
        self._server: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        loop = self.ctx.loop
        self._server = await loop.create_server(lambda: GbMediaConn(self), "0.0.0.0", self.cfg.listen)
        sock = self._server.sockets[0] if self._server.sockets else None
        if sock is not None:
            self._port = int(sock.getsockname()[1])
        log.info("GB28181 media listen at tcp://0.0.0.0:%d, output=%s", self.port, self.cfg.output)
        if self.cfg.sip.enabled:
            log.info(
                "GB28181: sip { listen %d } is not served (SRS 7 removed the embedded SIP server): run an "
                "external SIP server (e.g. ossrs/srs-sip) that calls POST %s",
                self.cfg.sip.listen,
                PUBLISH_PATH,
            )
        self._timer = loop.call_later(TICK_S, self._tick)

    @property
    def port(self) -> int:
        return self._port

    async def stop(self) -> None:
        for c in list(self.conns):
            c.close("server stopping")
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def bind(self, device_id: str, ssrc: int) -> None:
        """SRS's ``SrsGoApiGbPublish::bind_session``: an id and an SSRC each bound once."""
        old = self.by_id.get(device_id)
        if old is not None and old.ssrc == ssrc:
            old.gone_at = self.ctx.loop.time()  # the same again: refreshed
            return
        if old is not None:
            raise StreamBusyError("stream already exists", ErrorCode.SYSTEM_STREAM_BUSY)
        if ssrc in self.by_ssrc:
            raise StreamBusyError("ssrc already exists", ErrorCode.SYSTEM_STREAM_BUSY)
        b = Binding(device_id, ssrc, None, self.ctx.loop.time())
        self.by_id[device_id] = b
        self.by_ssrc[ssrc] = b
        log.info("GB publish id=%s, ssrc=%d, port=%d", device_id, ssrc, self.port)

    def _tick(self) -> None:
        now = self.ctx.loop.time()
        keep = self.cfg.sip.timeout_s
        for b in list(self.by_id.values()):
            if b.conn is None and now - b.gone_at > keep:
                log.info("GB: forget id=%s ssrc=%d (no media for %.0fs)", b.id, b.ssrc, keep)
                del self.by_id[b.id]
                self.by_ssrc.pop(b.ssrc, None)
        for c in list(self.conns):
            c.check(now)
        self._timer = self.ctx.loop.call_later(TICK_S, self._tick)


class GbMediaConn(asyncio.Protocol):
    """One device's media TCP connection: RFC 4571 RTP -> PS -> the Source.

    Until its first RTP packet names a bound SSRC it is an anonymous server connection; then a
    :class:`srs.server.casters.CasterStream` publishes (and is the connection the API lists and kicks).
    """

    def __init__(self, caster: GbCaster) -> None:
        self.caster = caster
        self.ctx = caster.ctx
        self.cid = ""
        self.ip = ""
        self.transport: asyncio.Transport | None = None
        self.recv_bytes = 0
        self.send_bytes = 0
        self.binding: Binding | None = None
        self.stream: CasterStream | None = None
        self.ingest = GbIngest()
        self.rtp_packets = 0
        self.ignored = 0
        self._buf = bytearray()
        self._held: list[bytes] = []  # PS payloads that came while the hooks ran
        self._closed = False
        self._started = 0.0
        self._last_media = 0.0
        self._got_media = False
        self._vhost: VhostConfig | None = None

    @property
    def kind(self) -> str:
        return "gb28181-media"

    # ------------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else ""
        self.cid = self.ctx.new_cid()
        context_id.set(self.cid)
        self._started = self._last_media = self.ctx.loop.time()
        if not self.ctx.admit(self):
            log.warning("GB: drop media ip=%s: exceed max_connections", self.ip)
            self._closed = True
            self.transport.abort()
            return
        self.caster.conns.add(self)
        log.info("GB media connected ip=%s", self.ip)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        context_id.set(self.cid)
        self.recv_bytes += len(data)
        if self.stream is not None:
            self.stream.recv_bytes += len(data)
        self._buf += data
        try:
            self._packets()
        except SrsError as e:
            self.close(str(e))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed:
            self._closed = True
            self._cleanup("peer closed")
        self.transport = None

    # ------------------------------------------------------------------ input

    def _packets(self) -> None:
        buf = self._buf
        pos = 0
        while len(buf) - pos >= 2:
            n = (buf[pos] << 8) | buf[pos + 1]
            if n == 0:
                raise SrsError("gb28181: RFC 4571 length 0", ErrorCode.SYSTEM_PACKET_INVALID)
            if len(buf) - pos - 2 < n:
                break
            self._rtp(bytes(buf[pos + 2 : pos + 2 + n]))
            pos += 2 + n
            if self._closed:
                return
        del buf[:pos]

    def _rtp(self, pkt: bytes) -> None:
        got = parse_rtp(pkt)
        if got is None:
            self.ignored += 1
            return
        ssrc, payload = got
        if not payload:
            return  # RTCP (SRS's srs_is_rtcp: dropped) or an empty packet
        self.rtp_packets += 1
        if self.binding is None:
            b = self.caster.by_ssrc.get(ssrc)
            if b is None:
                self.ignored += 1
                if self.ignored == 1:
                    log.warning(
                        "GB: ignore media of ssrc=%d ip=%s: no session (POST %s first)",
                        ssrc,
                        self.ip,
                        PUBLISH_PATH,
                    )
                return
            if b.conn is not None and b.conn is not self:
                b.conn.close("a new media connection for the same ssrc")
            b.conn = self
            self.binding = b
            self._task = asyncio.ensure_future(self._publish(b))
        elif ssrc != self.binding.ssrc:
            self.ignored += 1
            return
        if self.stream is None or not self.stream.publishing:
            self._held.append(payload)
            if len(self._held) > 10000:
                del self._held[:1000]
            return
        self._feed(payload)

    def _feed(self, payload: bytes) -> None:
        stream = self.stream
        if stream is None:
            return
        msgs = self.ingest.feed(payload)
        if msgs:
            self._got_media = True
            self._last_media = self.ctx.loop.time()
            stream.on_messages(msgs)

    # ------------------------------------------------------------------ publish

    async def _publish(self, b: Binding) -> None:
        context_id.set(self.cid)
        output = self.caster.cfg.output.replace("[stream]", b.id)
        stream = self.stream = CasterStream(self.ctx, output, self.ip, on_kick=self._kicked)
        self.ctx.forget(self)  # from now on the publish is the server's connection
        try:
            await stream.start()
        except SrsError as e:
            log.warning("GB: publish id=%s refused: %s", b.id, e)
            self.close(str(e))
            return
        except Exception as e:
            log.exception("GB: publish id=%s failed", b.id)
            self.close(f"{type(e).__name__}: {e}")
            return
        if self._closed:
            stream.stop("media gone")
            return
        req = stream.request
        try:
            self._vhost = self.ctx.resolve_vhost(req.vhost if req is not None else "")
        except SrsError:
            self._vhost = None  # the vhost went away meanwhile (reload): the first-packet rule applies
        log.info(
            "GB publish ip=%s id=%s ssrc=%d url=%s", self.ip, b.id, b.ssrc, req.stream_url if req else ""
        )
        held, self._held = self._held, []
        for p in held:
            self._feed(p)

    def _kicked(self, reason: str) -> None:
        self.close(reason)

    def check(self, now: float) -> None:
        """SRS's publish timeouts: no media for ``firstpkt_timeout`` / ``normal_timeout`` ends it."""
        v = self._vhost
        if v is None:
            if now - self._started > FIRST_TIMEOUT_S:
                self.close("no media")
            return
        limit = (v.publish.normal_timeout_ms if self._got_media else v.publish.firstpkt_timeout_ms) / 1000
        if now - self._last_media > limit:
            self.close(f"no media for {limit:.0f}s")

    # ------------------------------------------------------------------ stop

    def close(self, reason: str) -> None:
        """Close now (kick, timeout, shutdown)."""
        if self._closed:
            return
        self._closed = True
        log.info("GB media close ip=%s: %s", self.ip, reason)
        self._cleanup(reason)
        if self.transport is not None:
            self.transport.close()

    def _cleanup(self, reason: str) -> None:
        self.caster.conns.discard(self)
        b = self.binding
        if b is not None and b.conn is self:
            b.conn = None
            b.gone_at = self.ctx.loop.time()
        stream = self.stream
        if stream is not None:
            if stream.publishing:
                with contextlib.suppress(Exception):
                    stream.on_messages(self.ingest.flush())
            stream.stop(reason)
        self.ctx.forget(self)


# ---------------------------------------------------------------------- API


def _answer(body: dict[str, object]) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
        headers={"Connection": "Close"},
    )


async def gb_publish(request: web.Request) -> web.StreamResponse:
    """``POST /gb/v1/publish/`` ``{id, ssrc}`` -> ``{code, port, is_tcp}`` (SRS ``SrsGoApiGbPublish``)."""
    ctx = request.app[CTX]
    caster = cast("GbCaster | None", getattr(ctx, "gb", None))
    if caster is None:
        raise web.HTTPNotFound()
    try:
        doc = json.loads(await request.text() or "null")
    except (ValueError, UnicodeDecodeError):
        doc = None
    try:
        if not isinstance(doc, dict):
            raise SrsError("invalid body", ErrorCode.HTTP_DATA_INVALID)
        device_id, ssrc_v = doc.get("id"), doc.get("ssrc")
        if not isinstance(device_id, str) or not device_id:
            raise SrsError("id required", ErrorCode.HTTP_DATA_INVALID)
        if isinstance(ssrc_v, bool) or not isinstance(ssrc_v, str | int):
            raise SrsError("ssrc required", ErrorCode.HTTP_DATA_INVALID)
        try:
            ssrc = int(ssrc_v)
        except ValueError:
            raise SrsError("ssrc required", ErrorCode.HTTP_DATA_INVALID) from None
        if not 0 < ssrc <= 0xFFFFFFFF:
            raise SrsError("ssrc out of range", ErrorCode.HTTP_DATA_INVALID)
        caster.bind(device_id, ssrc)
    except SrsError as e:
        log.warning("GB error %s", e)
        desc = "StreamBusy" if e.code == ErrorCode.SYSTEM_STREAM_BUSY else "HttpResponseData"
        return _answer({"code": int(e.code), "desc": desc})
    return _answer({"code": 0, "port": caster.port, "is_tcp": True})


def add_routes(app: web.Application) -> None:
    """Mount ``/gb/v1/publish/`` (SRS's mux serves the pattern and everything below it)."""
    app.router.add_route("*", PUBLISH_PATH, gb_publish)
    app.router.add_route("*", PUBLISH_PATH + "{tail:.+}", gb_publish)
