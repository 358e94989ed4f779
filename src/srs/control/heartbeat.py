"""Heartbeat (``heartbeat``): periodic POST so a proxy or dashboard can register this server
(owner: hooks/security task)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from srs.control.stats import Statistics
    from srs.server.context import ServerContext


class Heartbeat:
    def __init__(self, ctx: ServerContext, stats: Statistics) -> None:
        self.ctx = ctx
        self.stats = stats

    def start(self) -> None:
        """Start the periodic task (reads ``ctx.config.heartbeat`` at each tick)."""

    async def stop(self) -> None:
        """Stop the periodic task."""
