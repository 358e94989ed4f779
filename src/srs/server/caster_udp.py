"""The ``mpegts_over_udp`` stream caster: raw MPEG-TS datagrams to a UDP port become a live stream.

SRS (``SrsMpegtsOverUdp``, ``srs_app_mpegts_udp.cpp``) listens on ``listen`` (UDP), appends every
datagram, from whatever sender, to one buffer, demuxes it and pushes the result as RTMP to the
``output`` URL, taken as it is (no ``[app]``/``[stream]`` substitution: the config names the
stream, e.g. ``output rtmp://127.0.0.1/live/livestream;``). It connects on the first media and
reconnects after an error; its server drops the publish after ``publish.normal_timeout`` without
media, and the next datagram publishes again.

Here the bytes go through :class:`srs.remux.ts_in.TsIngest` into the live Source (see
:mod:`srs.server.casters` for the publish steps): a publish starts with the first datagram after
none was publishing, and ends (``on_unpublish``) when no datagram came for the vhost's
``publish.normal_timeout`` (default 5 s), when kicked (the next datagram publishes again, as SRS's
reconnect) or when the server stops. A publish refused by a hook or security is retried at most
once a second (SRS retries on every message). Where we differ: ``[app]``/``[stream]`` left in the
output URL become ``live``/``livestream``; ``listen 0`` takes a free port (tests).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from srs.config import StreamCasterConfig
from srs.media.message import MediaMessage
from srs.remux.ts_in import TsIngest
from srs.server.casters import Caster, CasterStream, output_request
from srs.server.context import ServerContext
from srs.util.errors import SrsError

log = logging.getLogger("srs")

RETRY_S = 1.0  # a refused publish is tried again after this long (data in between is dropped)
TICK_S = 1.0
MAX_QUEUED = 5000  # messages kept while the publish hooks run
RCVBUF = 4 << 20


class UdpCaster(Caster, asyncio.DatagramProtocol):
    def __init__(self, ctx: ServerContext, config: StreamCasterConfig) -> None:
        self.ctx = ctx
        self.config = config
        self.output = config.output.replace("[app]", "live").replace("[stream]", "livestream")
        self.transport: asyncio.DatagramTransport | None = None
        self.stream: CasterStream | None = None
        self.ingest: TsIngest | None = None
        self._starting: asyncio.Task[None] | None = None
        self._queue: list[MediaMessage] = []
        self._retry_at = 0.0
        self._last_data = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.datagrams = 0

    @property
    def port(self) -> int:
        if self.transport is None:
            return self.config.listen
        return int(self.transport.get_extra_info("sockname")[1])

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        except OSError:
            pass
        sock.bind(("0.0.0.0", self.config.listen))
        transport, _ = await self.ctx.loop.create_datagram_endpoint(lambda: self, sock=sock)
        self.transport = transport
        self._timer = self.ctx.loop.call_later(TICK_S, self._tick)
        log.info("caster mpegts_over_udp listen=%d output=%s", self.port, self.output)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._starting is not None:
            self._starting.cancel()
        self._end("server stopping")
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    # ------------------------------------------------------------------ datagrams

    def datagram_received(self, data: bytes, addr: Any) -> None:
        loop = self.ctx.loop
        now = loop.time()
        self._last_data = now
        self.datagrams += 1
        stream = self.stream
        if stream is None or stream.closed:
            if self._starting is not None or now < self._retry_at or self.ctx.closing:
                return
            stream = self._begin(str(addr[0]) if addr else "")
        ingest = self.ingest
        if ingest is None:
            return
        stream.recv_bytes += len(data)
        msgs = ingest.feed(data)
        if not msgs:
            return
        if self._starting is not None:
            self._queue += msgs
            if len(self._queue) > MAX_QUEUED:
                del self._queue[: len(self._queue) - MAX_QUEUED]
        else:
            stream.on_messages(msgs)

    def _begin(self, ip: str) -> CasterStream:
        stream = self.stream = CasterStream(self.ctx, self.output, ip, self._on_kick)
        self.ingest = TsIngest()
        self._queue = []
        task = self._starting = self.ctx.loop.create_task(stream.start())
        task.add_done_callback(lambda t: self._started(stream, t))
        return stream

    def _started(self, stream: CasterStream, task: asyncio.Task[None]) -> None:
        self._starting = None
        queue, self._queue = self._queue, []
        err = None if task.cancelled() else task.exception()
        if task.cancelled() or err is not None:
            if err is not None and not isinstance(err, SrsError):
                log.error("caster mpegts_over_udp: publish failed", exc_info=err)
            else:
                log.warning("caster mpegts_over_udp: publish %s refused: %s", self.output, err or "cancelled")
            self._retry_at = self.ctx.loop.time() + RETRY_S
            if self.stream is stream:
                self.stream, self.ingest = None, None
            return
        stream.on_messages(queue)

    def _on_kick(self, reason: str) -> None:
        """Kicked: the publish ended; the next datagram starts a new one (SRS's caster reconnects)."""
        self.stream, self.ingest = None, None

    def error_received(self, exc: Exception) -> None:
        log.debug("caster mpegts_over_udp: %s", exc)

    # ------------------------------------------------------------------ idle

    def _timeout_s(self) -> float:
        req = output_request(self.output, "")
        v = self.ctx.config.vhost(req.vhost) or self.ctx.config.vhost("__defaultVhost__")
        return (v.publish.normal_timeout_ms if v is not None else 5000) / 1000

    def _tick(self) -> None:
        self._timer = self.ctx.loop.call_later(TICK_S, self._tick)
        stream = self.stream
        if stream is None or self._starting is not None or stream.closed:
            return
        if self.ctx.loop.time() - self._last_data >= self._timeout_s():
            self._end("no data: idle timeout")

    def _end(self, reason: str) -> None:
        stream, ingest = self.stream, self.ingest
        self.stream, self.ingest = None, None
        if stream is None:
            return
        if ingest is not None and stream.publishing:
            stream.on_messages(ingest.flush())
        stream.stop(reason)
        if ingest is not None:
            log.info(
                "caster mpegts_over_udp: %s; ts errors=%d dropped=%d",
                reason,
                ingest.stats.errors,
                ingest.stats.dropped,
            )
