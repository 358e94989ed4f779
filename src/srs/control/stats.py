"""Statistics of vhosts, streams and clients (SRS ``SrsStatistic``) (owner: stats/API task)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from srs.media.source import Source
    from srs.server.context import ServerContext
    from srs.server.policy import Client


class Statistics:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def on_client(self, client: Client) -> None:
        """A client is identified (type and stream known); may be called again on republish."""

    def on_disconnect(self, client: Client, error: bool) -> None:
        """The client's connection is gone."""

    def on_stream_publish(self, client: Client, source: Source) -> None:
        """The client publishes ``source``."""

    def on_stream_close(self, client: Client, source: Source) -> None:
        """The publisher left ``source``."""

    def sample(self, now: float) -> None:
        """Take a kbps sample (the app calls this periodically)."""
