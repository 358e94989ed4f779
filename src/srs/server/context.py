"""What every inbound adapter shares: current config, live sources, connections, ids.

Built by :mod:`srs.app` (the composition root) and handed to the listeners. ``config`` is replaced
as a whole on reload; adapters read it at decision points (a new connection, a new play/publish),
never cache pieces of it across a reload.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from srs.config import DEFAULT_VHOST, Config, VhostConfig
from srs.media.jitter import JitterAlgorithm
from srs.media.registry import SourceRegistry
from srs.media.source import SourceSettings
from srs.protocol.rtmp.chunk import ByteBudget
from srs.server.fanout import FanoutPacer
from srs.server.policy import AllowAll, Policy
from srs.util.errors import AccessDeniedError, ErrorCode, SrsError

if TYPE_CHECKING:
    from srs.media.source import Source
    from srs.protocol.request import Request
    from srs.server.gb28181 import GbCaster
    from srs.server.hls_play import HlsPlay
    from srs.server.http_conn import HttpConnections
    from srs.server.llhls import LlStore
    from srs.server.rtc.spec import RtcSessions

# An output (HLS, DVR, ...) that starts for each publish: (source, vhost, request).
OnPublish = Callable[["Source", VhostConfig, "Request"], None]

log = logging.getLogger("srs")

_ID_CHARS = string.digits + string.ascii_lowercase

# SRS_CONSTS_RTMP_TIMEOUT: a player whose writes make no progress for this long is ended.
SEND_TIMEOUT_S = 30.0
# SRS_HTTP_RECV_TIMEOUT: an HTTP connection must complete its request headers within this long of
# connecting or of its previous response (SRS times each read; we time the whole header, so a
# client sending one byte every few seconds cannot hold a connection either).
HTTP_RECV_TIMEOUT_S = 15.0
# Ours: partial RTMP messages of all connections together (each connection has its own cap too).
RTMP_PARTIAL_TOTAL = 256 << 20
SWEEP_S = 1.0


def new_id(n: int = 8) -> str:
    """SRS-style random id: ``n`` chars of ``[0-9a-z]`` (client ids, context ids, service id)."""
    return "".join(secrets.choice(_ID_CHARS) for _ in range(n))


class Connection(Protocol):
    """A client connection any listener accepted (RTMP, HTTP stream, ...)."""

    cid: str
    ip: str

    @property
    def kind(self) -> str:
        """SRS client type: ``rtmp-play``, ``flv-play``, ``fmle-publish``, ... or ``""`` while unknown."""
        ...

    def close(self, reason: str) -> None:
        """Close now (kick, shutdown, policy)."""
        ...


class Watched(Protocol):
    """A player whose transport held unsent bytes at its last write (see :meth:`ServerContext.watch`)."""

    def check(self, now: float) -> bool:
        """Called about once a second (loop time): end the connection if its writes have stalled;
        return whether it still needs watching (False once its buffer is empty or it is gone)."""
        ...

    def restart_watch(self, now: float) -> None:
        """Watching starts (again): count a stall from ``now``."""
        ...


def settings_from_vhost(v: VhostConfig | None) -> SourceSettings:
    if v is None:
        return SourceSettings()
    p = v.play
    return SourceSettings(
        gop_cache=p.gop_cache,
        gop_cache_max_frames=p.gop_cache_max_frames,
        queue_length_ms=p.queue_length_ms,
        time_jitter=JitterAlgorithm.parse(p.time_jitter),
        atc=p.atc,
        atc_auto=p.atc_auto,
        mw_latency_ms=p.mw_latency_ms,
        mw_msgs=p.mw_msgs,
        reduce_sequence_header=p.reduce_sequence_header,
    )


@dataclass(slots=True)
class ServerIdentity:
    server_id: str
    service_id: str
    pid: int


class ServerContext:
    def __init__(self, config: Config, loop: asyncio.AbstractEventLoop, identity: ServerIdentity) -> None:
        self.config = config
        self.loop = loop
        self.identity = identity
        # When the live sources' flushes run (mw_cpu_budget: the fan-out's share of a core).
        self.pacer = FanoutPacer(loop, config.mw_cpu_budget / 100)
        self.registry = SourceRegistry(self.pacer.soon, self._settings_for, self.pacer.pace)
        self.connections: dict[str, Connection] = {}
        self._anonymous: dict[str, Connection] = {}  # oldest first: what admit() may close when full
        self.started_at = time.time()
        self.closing = False
        # SRS's RTMP recv timeout: handshake + connect + play/publish must arrive within this.
        self.identify_timeout_s = 30.0
        self.send_timeout_s = SEND_TIMEOUT_S
        self.http_recv_timeout_s = HTTP_RECV_TIMEOUT_S
        self.rtmp_budget = ByteBudget(RTMP_PARTIAL_TOTAL)
        self.http_conns: HttpConnections | None = None  # the app wires it with the HTTP listeners
        self.outputs: list[OnPublish] = []  # the app wires the file outputs (HLS, ...)
        self.hls_play: HlsPlay | None = None  # HLS sessions (hls_ctx), wired by the app
        self.llhls: LlStore | None = None  # LL-HLS served from memory, wired by the app
        self.rtc: RtcSessions | None = None  # the WebRTC media side (rtc_server), wired by the app
        self.gb: GbCaster | None = None  # the gb28181 stream_caster (its API), wired by the app
        self._last_sweep = 0.0
        self._watched: set[Watched] = set()
        # The control plane (hooks, security, stats): wired by the app, allow-all until then.
        self.policy: Policy = AllowAll()

    # ------------------------------------------------------------- vhosts

    def _settings_for(self, vhost: str) -> SourceSettings:
        return settings_from_vhost(self.config.vhost(vhost))

    def resolve_vhost(self, name: str) -> VhostConfig:
        """SRS vhost lookup: exact name, else ``__defaultVhost__``, else NoVhost (2014)."""
        v = self.config.vhost(name)
        if v is None:
            v = self.config.vhost(DEFAULT_VHOST)
        if v is None:
            raise SrsError(f"vhost {name!r} not found", ErrorCode.RTMP_VHOST_NOT_FOUND)
        if not v.enabled:
            raise AccessDeniedError(f"vhost {v.name!r} is disabled", ErrorCode.RTMP_VHOST_NOT_FOUND)
        return v

    # ------------------------------------------------------------- connections

    def admit(self, conn: Connection, *, anonymous: bool = True) -> bool:
        """Register a new connection; at ``max_connections``, make room or refuse.

        SRS refuses every new connection once full, so idle sockets (a flood of them, or slow HTTP
        clients) would lock everyone out until their timeouts. Ours: a connection that is still
        anonymous (an RTMP client that has not asked to play or publish, an HTTP connection between
        requests) can be closed to admit the new one, oldest first; only when every connection is
        a player, a publisher or a request being served is the new one refused.
        """
        if self.closing:
            return False
        if len(self.connections) >= self.config.max_connections and not self._evict_oldest_anonymous(conn):
            return False
        self.connections[conn.cid] = conn
        if anonymous:
            self._anonymous[conn.cid] = conn
        return True

    def identified(self, conn: Connection) -> None:
        """``conn`` plays, publishes or has a request in progress: it is kept when the server is full."""
        self._anonymous.pop(conn.cid, None)

    def idle(self, conn: Connection) -> None:
        """``conn`` is anonymous again (an HTTP connection between requests), as the newest one."""
        if self.connections.get(conn.cid) is conn:
            self._anonymous.pop(conn.cid, None)
            self._anonymous[conn.cid] = conn

    def _evict_oldest_anonymous(self, newcomer: Connection) -> bool:
        while self._anonymous:
            cid = next(iter(self._anonymous))
            old = self._anonymous.pop(cid)
            if self.connections.get(cid) is not old:
                continue
            del self.connections[cid]
            log.warning(
                "max_connections=%d reached: closed idle client ip=%s to admit ip=%s",
                self.config.max_connections,
                old.ip,
                newcomer.ip,
            )
            old.close("evicted: the server is full and the connection was idle")
            return True
        return False

    def forget(self, conn: Connection) -> None:
        if self.connections.get(conn.cid) is conn:
            del self.connections[conn.cid]
        self._anonymous.pop(conn.cid, None)

    def publishing(self, source: Source, vhost: VhostConfig, req: Request) -> None:
        """A publisher was accepted: start the outputs its vhost enables."""
        for start in self.outputs:
            try:
                start(source, vhost, req)
            except Exception:  # an output must never cost the publisher its stream
                log.exception("output %r failed to start for %s", start, source.url)

    def watch(self, conn: Watched) -> None:
        """A player's write left bytes in its transport: check it until they are gone.

        Only these are swept: a player whose writes all reach the kernel costs the sweep nothing
        (visiting thousands of healthy players every second took CPU from the fan-out's budget).
        """
        if conn not in self._watched:
            self._watched.add(conn)
            conn.restart_watch(self.loop.time())

    def sweep(self) -> None:
        """Check the watched players' send timeouts; at most once a second."""
        now = self.loop.time()
        if now - self._last_sweep < SWEEP_S:
            return
        self._last_sweep = now
        for conn in list(self._watched):
            if not conn.check(now):
                self._watched.discard(conn)

    def iter_connections(self) -> Iterator[Connection]:
        return iter(list(self.connections.values()))

    def close_all(self, reason: str) -> None:
        for conn in self.iter_connections():
            conn.close(reason)

    def new_cid(self) -> str:
        while True:
            cid = new_id()
            if cid not in self.connections:
                return cid


def now_ms() -> int:
    return int(time.time() * 1000)


def pid() -> int:
    return os.getpid()


Callback = Callable[[], None]
