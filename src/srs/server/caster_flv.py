"""The ``flv`` stream caster: an HTTP POST of an FLV body becomes a live stream.

SRS (``SrsAppCasterFlv``, ``srs_app_caster_flv.cpp``) serves HTTP on ``listen``; for a request to
``/{app}/{stream}.flv`` it replaces ``[app]`` (the path's directory, when not empty) and ``[stream]``
(its last element) in the ``output`` URL, drops a trailing ``.flv``, connects an RTMP client there and
pushes every FLV tag of the request body as it arrives (any method; chunked or not), until the body
ends or an error. An unknown tag type ends it (``STREAM_CASTER_FLV_TAG``).

Here the tags go straight into the live Source (publish steps in :mod:`srs.server.casters`): audio and
video classified as an RTMP publisher's, ``onMetaData`` rewritten as SRS does. The response (200, empty)
is sent when the body ends; a refused publish answers 403 (hooks, security), 409 (stream busy) or 400
(bad name); a body without an FLV header answers 400 before anything is published (SRS reads the
header first too), a body that goes bad later ends the publish and answers 400. Where we differ: only POST and PUT
are taken (405 otherwise; SRS tries any method and fails reading the FLV header), and ``listen 0``
takes a free port (tests).
"""

from __future__ import annotations

import logging
import posixpath

from aiohttp import web

from srs.config import StreamCasterConfig
from srs.format import amf0
from srs.format.flv import FlvReader, FlvTag, TagType
from srs.media.message import DATA
from srs.remux.rtmp import media_from_rtmp, metadata_from_values
from srs.server.casters import Caster, CasterStream
from srs.server.context import ServerContext
from srs.util.errors import AccessDeniedError, ErrorCode, SrsError, StreamBusyError

log = logging.getLogger("srs")


def output_for(output: str, path: str) -> str:
    """SRS ``SrsAppCasterFlv::serve_http``: the output URL for a request path."""
    app = posixpath.dirname(path).lstrip("/")
    stream = posixpath.basename(path).lstrip("/")
    o = output
    if app and app != "/":
        o = o.replace("[app]", app)
    o = o.replace("[stream]", stream)
    if o.endswith(".flv"):
        o = o[:-4]
    return o


class FlvCaster(Caster):
    def __init__(self, ctx: ServerContext, config: StreamCasterConfig) -> None:
        self.ctx = ctx
        self.config = config
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        self.site: web.TCPSite | None = None
        self.streams: set[CasterStream] = set()

    @property
    def port(self) -> int:
        server = self.site._server if self.site is not None else None
        socks = getattr(server, "sockets", None)
        return int(socks[0].getsockname()[1]) if socks else self.config.listen

    async def start(self) -> None:
        await self.runner.setup()
        self.site = web.TCPSite(self.runner, "0.0.0.0", self.config.listen, reuse_address=True)
        try:
            await self.site.start()
        except BaseException:
            await self.runner.cleanup()
            raise
        log.info("caster flv listen=%d output=%s", self.port, self.config.output)

    async def stop(self) -> None:
        for s in list(self.streams):
            s.close("server stopping")
        await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("POST", "PUT"):
            return web.Response(status=405, headers={"Allow": "POST, PUT"})
        output = output_for(self.config.output, request.path)
        ip = request.remote or ""
        transport = request.transport

        def kick(reason: str) -> None:
            if transport is not None:
                transport.close()

        # SRS reads the FLV header before it connects to the output: a body that is not FLV publishes nothing.
        reader = FlvReader()
        first: list[FlvTag] = []
        chunks = request.content.iter_any()
        try:
            while reader.header is None:
                first += reader.feed(await chunks.__anext__())
        except StopAsyncIteration:
            return web.Response(status=400, text="no FLV header")
        except SrsError as e:
            return web.Response(status=400, text=f"bad FLV: {e}")
        stream = CasterStream(self.ctx, output, ip, kick)
        try:
            await stream.start()
        except StreamBusyError as e:
            return web.Response(status=409, text=str(e))
        except AccessDeniedError as e:
            return web.Response(status=403, text=str(e))
        except SrsError as e:
            status = 400 if e.code == ErrorCode.RTMP_STREAM_NAME_EMPTY else 403
            return web.Response(status=status, text=str(e))
        self.streams.add(stream)
        log.info("caster flv: %s %s from %s -> %s", request.method, request.path, ip, output)
        status, reason = 200, "body ended"
        try:
            self._tags(stream, first)
            async for chunk in chunks:
                if stream.closed:
                    break
                stream.recv_bytes += len(chunk)
                try:
                    tags = reader.feed(chunk)
                except SrsError as e:
                    status, reason = 400, f"bad FLV: {e}"
                    break
                self._tags(stream, tags)
        except (ConnectionError, OSError) as e:
            status, reason = 400, f"connection: {e}"
        finally:
            self.streams.discard(stream)
            stream.stop(reason, error=status != 200)
        if status != 200:
            log.warning("caster flv %s: %s", request.path, reason)
        return web.Response(status=status, text="" if status == 200 else reason)

    def _tags(self, stream: CasterStream, tags: list[FlvTag]) -> None:
        for tag in tags:
            if tag.tag_type == TagType.SCRIPT:
                self._metadata(stream, tag.timestamp, tag.body)
                continue
            msg = media_from_rtmp(tag.tag_type, tag.timestamp, tag.body)
            if msg is not None:
                stream.on_messages([msg])

    @staticmethod
    def _metadata(stream: CasterStream, timestamp: int, body: bytes) -> None:
        try:
            values = amf0.decode_all(body)
        except SrsError:
            return
        if "onMetaData" not in values[:2]:
            return
        got = metadata_from_values(timestamp, values)
        if got is not None:
            msg, atc = got
            if msg.kind == DATA:
                stream.on_metadata(msg, atc)
