"""Every accepted HTTP connection counts toward ``max_connections``, as in SRS.

aiohttp's server tells its manager when a connection is made and lost; :func:`track_connections`
hooks those two calls of a listener's server so each connection is admitted by the
:class:`~srs.server.context.ServerContext` (when the server is full, an idle connection makes room
or the newcomer is refused at once, before any byte is read) and forgotten when it goes. While a connection streams (HTTP-FLV), the player takes its
place in the table (:meth:`HttpConnections.stream`), so a player still counts once.

When the server is full, an idle HTTP connection (between requests) is one the context may close
to admit a new client (:meth:`ServerContext.admit`); one with a request in progress is not.

Idle and slow connections: aiohttp's keep-alive timer, set to SRS's 15 s HTTP receive timeout by the
listener, closes a connection that has not completed its request headers within 15 s of connecting
or of its previous response (a slowloris client dripping header bytes included).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from srs.server.context import Connection, ServerContext

log = logging.getLogger("srs")


class HttpConnection:
    """An HTTP connection while no stream is being served on it."""

    __slots__ = ("cid", "ip", "transport")

    def __init__(self, cid: str, ip: str, transport: asyncio.Transport) -> None:
        self.cid = cid
        self.ip = ip
        self.transport = transport

    @property
    def kind(self) -> str:
        return ""

    def close(self, reason: str) -> None:
        self.transport.close()


class HttpConnections:
    """The HTTP connections of every listener, by aiohttp protocol object."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self._by_protocol: dict[object, HttpConnection] = {}

    def made(self, protocol: object, transport: asyncio.Transport) -> bool:
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if peer else ""
        conn = HttpConnection(self.ctx.new_cid(), ip, transport)
        if not self.ctx.admit(conn):
            log.warning(
                "drop HTTP client ip=%s: exceed max_connections=%d", ip, self.ctx.config.max_connections
            )
            transport.abort()
            return False
        self._by_protocol[protocol] = conn
        return True

    def lost(self, protocol: object) -> None:
        conn = self._by_protocol.pop(protocol, None)
        if conn is not None:
            self.ctx.forget(conn)

    def busy(self, protocol: object) -> None:
        """A request is being served: the connection is kept when the server is full."""
        conn = self._by_protocol.get(protocol)
        if conn is not None:
            self.ctx.identified(conn)

    def done(self, protocol: object) -> None:
        """The response went out: idle (and evictable) until the next request."""
        conn = self._by_protocol.get(protocol)
        if conn is not None:
            self.ctx.idle(conn)

    def stream(self, protocol: object, player: Connection) -> Callable[[], None] | None:
        """``player`` replaces the connection of ``protocol`` in the table; returns the undo, or
        None when the connection is not tracked (the caller then admits the player itself)."""
        conn = self._by_protocol.get(protocol)
        if conn is None or self.ctx.connections.get(conn.cid) is not conn:
            return None
        ctx = self.ctx
        ctx.forget(conn)
        ctx.connections[player.cid] = player

        def undo() -> None:
            ctx.forget(player)
            if self._by_protocol.get(protocol) is conn:
                ctx.connections[conn.cid] = conn  # back in the table; done() makes it idle

        return undo


def track_connections(server: Any, conns: HttpConnections) -> None:
    """Hook ``connection_made``/``connection_lost`` of an aiohttp ``web.Server`` (``runner.server``)."""
    inner_made = server.connection_made
    inner_lost = server.connection_lost

    def made(handler: Any, transport: asyncio.Transport) -> None:
        inner_made(handler, transport)
        conns.made(handler, transport)

    def lost(handler: Any, exc: BaseException | None = None) -> None:
        conns.lost(handler)
        inner_lost(handler, exc)

    setattr(server, "connection_made", made)  # noqa: B010 - instance hook on aiohttp's manager
    setattr(server, "connection_lost", lost)  # noqa: B010
