"""Access control: ``vhost.security`` allow/deny rules and ``vhost.refer`` (owner: hooks/security task)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from srs.server.context import ServerContext
    from srs.server.policy import Client

ReferScope = Literal["all", "play", "publish"]


class Security:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def check(self, client: Client) -> None:
        """Raise ``AccessDeniedError`` (SRS 1052/1053/1054) when the rules refuse the client."""

    def check_refer(self, client: Client, scope: ReferScope) -> None:
        """Raise ``AccessDeniedError`` (SRS 2015) when the page URL is not allowed."""
