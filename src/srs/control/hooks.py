"""HTTP callbacks (``vhost.http_hooks``) (owner: hooks/security task)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from srs.server.context import ServerContext
    from srs.server.policy import Client


class HttpHooks:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def on_connect(self, client: Client) -> None:
        """Blocking: raise ``AccessDeniedError`` when a hook refuses."""

    async def on_publish(self, client: Client) -> None:
        """Blocking."""

    async def on_play(self, client: Client) -> None:
        """Blocking."""

    def on_unpublish(self, client: Client) -> None:
        """Fire and forget."""

    def on_stop(self, client: Client) -> None:
        """Fire and forget."""

    def on_close(self, client: Client) -> None:
        """Fire and forget."""

    async def close(self) -> None:
        """Stop pending calls and release the HTTP client (at shutdown)."""
