"""What the adapters ask the control plane, in SRS's order (DESIGN rule 3: the interface lives here,
with its consumer; ``srs.app`` wires the implementation from ``srs.control``).

Order for an RTMP client once it is identified (``SrsRtmpConn::stream_service_cycle``):

1. vhost lookup (the adapter) -> ``on_connect`` (``refer.all`` + the on_connect hook)
2. ``check_security`` (allow/deny rules, always before the play/publish hook)
3. play: Play.Start replies are sent -> ``on_client`` (stats registration) -> ``on_play``
   (``refer.play`` + hook) -> attach to the source;
   publish: ``on_client`` -> ``on_publish`` (``refer.publish`` + hook) -> acquire the source ->
   ``on_stream_publish``
4. ``on_stop`` / ``on_unpublish`` (+ ``on_stream_close``) when it ends, ``on_close`` and
   ``on_disconnect`` when the connection goes.

HTTP-FLV players skip 1 (SRS calls on_connect/on_close for RTMP and SRT only). A blocking step
raises :class:`~srs.util.errors.SrsError` (usually ``AccessDeniedError``) to reject the client:
the adapter closes the connection and nothing else happens for it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from srs.media.source import Source
    from srs.protocol.request import Request


class ClientConnection(Protocol):
    """The connection behind a client: byte counters and a way to end it (kick)."""

    cid: str
    ip: str

    @property
    def send_bytes(self) -> int: ...

    @property
    def recv_bytes(self) -> int: ...

    @property
    def kind(self) -> str: ...

    def close(self, reason: str) -> None: ...


class Client:
    """One client session as the control plane sees it (SRS ``SrsStatisticClient`` + request)."""

    __slots__ = ("conn", "created", "kind", "request")

    def __init__(self, conn: ClientConnection, request: Request, kind: str) -> None:
        self.conn = conn
        self.request = request
        self.kind = kind  # rtmp-play, flv-play, fmle-publish, flash-publish, haivision-publish, ...
        self.created = time.time()

    @property
    def cid(self) -> str:
        return self.conn.cid

    @property
    def ip(self) -> str:
        return self.request.ip or self.conn.ip

    @property
    def is_publish(self) -> bool:
        return self.kind.endswith("-publish")

    def __repr__(self) -> str:
        return f"Client({self.cid}, {self.kind}, {self.request.stream_url})"


class Policy(Protocol):
    async def on_connect(self, client: Client) -> None: ...

    def check_security(self, client: Client) -> None: ...

    def on_client(self, client: Client) -> None: ...

    async def on_play(self, client: Client) -> None: ...

    async def on_publish(self, client: Client) -> None: ...

    def on_stream_publish(self, client: Client, source: Source) -> None: ...

    def on_stream_close(self, client: Client, source: Source) -> None: ...

    def on_stop(self, client: Client) -> None: ...

    def on_unpublish(self, client: Client) -> None: ...

    def on_close(self, client: Client) -> None: ...

    def on_disconnect(self, client: Client, error: bool) -> None: ...


class AllowAll:
    """No control plane: every client is admitted, nothing is recorded."""

    async def on_connect(self, client: Client) -> None:
        return None

    def check_security(self, client: Client) -> None:
        return None

    def on_client(self, client: Client) -> None:
        return None

    async def on_play(self, client: Client) -> None:
        return None

    async def on_publish(self, client: Client) -> None:
        return None

    def on_stream_publish(self, client: Client, source: Source) -> None:
        return None

    def on_stream_close(self, client: Client, source: Source) -> None:
        return None

    def on_stop(self, client: Client) -> None:
        return None

    def on_unpublish(self, client: Client) -> None:
        return None

    def on_close(self, client: Client) -> None:
        return None

    def on_disconnect(self, client: Client, error: bool) -> None:
        return None
