"""Stream casters (``stream_caster``): what the ``mpegts_over_udp`` and ``flv`` casters share.

SRS's casters (``srs_app_mpegts_udp.cpp``, ``srs_app_caster_flv.cpp``) turn what they receive into
RTMP and push it to the ``output`` URL with an RTMP client, normally the server's own port: the stream
then goes through the whole RTMP publish path (hooks, security, stats as a ``flash-publish`` client
from 127.0.0.1, since SRS's RTMP client sends a plain ``publish``). We publish straight into the live
Source instead, with the same steps in the same order: the output URL gives vhost/app/stream/param,
then ``on_connect`` -> security -> stats -> ``on_publish`` -> acquire the source -> outputs (HLS,
DVR, ...); ``on_unpublish``/``on_close`` when it ends. Where we differ: the client IP is the
sender's (SRS's stats and hooks see 127.0.0.1), and an output URL naming another server is still
published here (SRS would push to that server: use ``forward`` for that, not implemented yet).

:class:`CasterStream` is one such publish; it is a connection of the server (``ctx.connections``),
so the API can list and kick it (a kick ends the publish; the caster decides what happens next).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from srs.config import StreamCasterConfig
from srs.media.message import MediaMessage
from srs.protocol.request import Request, parse_rtmp, unsafe_name
from srs.server.context import ServerContext
from srs.server.policy import Client
from srs.util.errors import ErrorCode, SrsError

if TYPE_CHECKING:
    from srs.media.source import Source

log = logging.getLogger("srs")

CLIENT_KIND = "flash-publish"  # what SRS's caster RTMP client is identified as on its own server


def output_request(output: str, ip: str) -> Request:
    """The request an ``output`` RTMP URL publishes: the last path element is the stream."""
    base, _, query = output.partition("?")
    tc_url, _, stream = base.rstrip("/").rpartition("/")
    return parse_rtmp(tc_url, stream + ("?" + query if query else ""), ip=ip)


class CasterStream:
    """One stream a caster publishes into the live Source (a server connection while it lives)."""

    def __init__(
        self, ctx: ServerContext, output: str, ip: str, on_kick: Callable[[str], None] | None = None
    ) -> None:
        self.ctx = ctx
        self.cid = ctx.new_cid()
        self.ip = ip
        self.output = output
        self.send_bytes = 0
        self.recv_bytes = 0
        self.request: Request | None = None
        self.client: Client | None = None
        self.source: Source | None = None
        self.publishing = False
        self.closed = False
        self.messages = 0
        self._on_kick = on_kick

    @property
    def kind(self) -> str:
        return CLIENT_KIND

    async def start(self) -> None:
        """Admit and publish; raises :class:`SrsError` when refused (the caller drops the data)."""
        ctx = self.ctx
        if not ctx.admit(self, anonymous=False):
            self.closed = True
            raise SrsError(f"exceed max_connections={ctx.config.max_connections}")
        try:
            req = output_request(self.output, self.ip)
            if not req.stream:
                raise SrsError("empty stream name", ErrorCode.RTMP_STREAM_NAME_EMPTY)
            why = unsafe_name(req.app, req.stream)
            if why is not None:
                raise SrsError(f"refused: {why}", ErrorCode.RTMP_STREAM_NAME_EMPTY)
            vhost = ctx.resolve_vhost(req.vhost)
            req = req.with_vhost(vhost.name)
            self.request = req
            client = self.client = Client(self, req, CLIENT_KIND)
            policy = ctx.policy
            await policy.on_connect(client)
            policy.check_security(client)
            policy.on_client(client)
            await policy.on_publish(client)
            if self.closed:
                raise SrsError("closed while the publish hooks ran")
            src = ctx.registry.fetch_or_create(req.stream_url, vhost.name)
            src.publish(self)  # StreamBusyError (1028) when taken
            self.source = src
            self.publishing = True
            policy.on_stream_publish(client, src)
            ctx.publishing(src, vhost, req)
            log.info("caster publish ip=%s url=%s output=%s", self.ip, req.stream_url, self.output)
        except BaseException:
            self.stop("refused", error=True)
            raise

    def on_messages(self, msgs: list[MediaMessage]) -> None:
        src = self.source
        if not self.publishing or src is None:
            return
        for m in msgs:
            src.on_message(m)
        self.messages += len(msgs)

    def on_metadata(self, msg: MediaMessage, bravo_atc: bool = False) -> None:
        if self.publishing and self.source is not None:
            self.source.on_metadata(msg, bravo_atc=bravo_atc)

    def stop(self, reason: str, *, error: bool = False) -> None:
        """Unpublish and leave the connection table (idempotent)."""
        if self.closed and self.request is None and self.source is None:
            return
        self.closed = True
        policy = self.ctx.policy
        src, self.source = self.source, None
        if self.publishing and src is not None:
            self.publishing = False
            src.unpublish(self)
            log.info("caster unpublish url=%s (%s) messages=%d", src.url, reason, self.messages)
            if self.client is not None:
                policy.on_stream_close(self.client, src)
                policy.on_unpublish(self.client)
        client, self.client, self.request = self.client, None, None
        if client is not None:
            policy.on_close(client)
            policy.on_disconnect(client, error)
        self.ctx.forget(self)

    def close(self, reason: str) -> None:
        """A kick (API) or the server stopping."""
        if self.closed:
            return
        self.stop(reason)
        if self._on_kick is not None:
            self._on_kick(reason)


async def start_casters(ctx: ServerContext, configs: tuple[StreamCasterConfig, ...]) -> list[Caster]:
    """Start the enabled ``mpegts_over_udp``, ``flv`` and ``gb28181`` casters."""
    from srs.server.caster_flv import FlvCaster
    from srs.server.caster_udp import UdpCaster
    from srs.server.gb28181 import GbCaster

    out: list[Caster] = []
    for c in configs:
        if not c.enabled:
            continue
        caster: Caster
        if c.caster == "mpegts_over_udp":
            caster = UdpCaster(ctx, c)
        elif c.caster == "flv":
            caster = FlvCaster(ctx, c)
        elif c.caster == "gb28181":
            caster = ctx.gb = GbCaster(ctx, c)  # its API (/gb/v1/publish/) finds it there
        else:
            continue
        await caster.start()
        out.append(caster)
    return out


class Caster(ABC):
    """A caster listener (mpegts_over_udp, flv, gb28181): what the app starts and stops."""

    config: StreamCasterConfig

    @property
    @abstractmethod
    def port(self) -> int:
        """The bound port (the real one for ``listen 0``)."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...
