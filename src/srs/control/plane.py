"""The control plane as the adapters see it: security, refer, hooks and statistics in SRS's order.

Implements :class:`srs.server.policy.Policy` by composing the components; ``srs.app`` builds it.
Every component reads the *current* config (``ctx.config``) at call time, so a reload of hook URLs,
security rules or refer lists applies to the next client without restarting anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from srs.control.hooks import HttpHooks
from srs.control.security import Security
from srs.control.stats import Statistics

if TYPE_CHECKING:
    from srs.media.source import Source
    from srs.server.policy import Client


class ControlPlane:
    def __init__(self, security: Security, hooks: HttpHooks, stats: Statistics) -> None:
        self.security = security
        self.hooks = hooks
        self.stats = stats

    async def on_connect(self, client: Client) -> None:
        self.security.check_refer(client, "all")
        await self.hooks.on_connect(client)

    def check_security(self, client: Client) -> None:
        self.security.check(client)

    def on_client(self, client: Client) -> None:
        self.stats.on_client(client)

    async def on_play(self, client: Client) -> None:
        # SRS compat: the on_play hook runs before ``refer.play`` (SrsRtmpConn::playing checks it),
        # while ``refer.publish`` is checked before the on_publish hook.
        await self.hooks.on_play(client)
        self.security.check_refer(client, "play")

    async def on_publish(self, client: Client) -> None:
        self.security.check_refer(client, "publish")
        await self.hooks.on_publish(client)

    def on_stream_publish(self, client: Client, source: Source) -> None:
        self.stats.on_stream_publish(client, source)

    def on_stream_close(self, client: Client, source: Source) -> None:
        self.stats.on_stream_close(client, source)

    def on_stop(self, client: Client) -> None:
        self.hooks.on_stop(client)

    def on_unpublish(self, client: Client) -> None:
        self.hooks.on_unpublish(client)

    def on_close(self, client: Client) -> None:
        self.hooks.on_close(client)

    def on_disconnect(self, client: Client, error: bool) -> None:
        self.stats.on_disconnect(client, error)
