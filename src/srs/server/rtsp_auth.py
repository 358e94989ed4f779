"""RTSP credentials on a connection (ours: SRS has no RTSP authentication).

With ``rtsp_server { auth { enabled on; realm SRS; user NAME PASSWORD; } }`` every RTSP request but
OPTIONS must carry the credentials of a configured user (Basic, or Digest against the connection's
nonce: :mod:`srs.protocol.rtsp.auth`); otherwise it is answered ``401 Unauthorized`` with a Digest
and a Basic challenge. After :data:`~srs.protocol.rtsp.auth.MAX_FAILURES` refused attempts the
connection is closed. The authenticated name goes to the ``on_play``/``on_publish`` hooks as
``user=<name>`` at the end of ``param`` (a client's own ``user=`` is dropped), so a hook can allow or
deny per user; a hook's refusal is answered as without auth (401, no challenge). A connection keeps
its first user: other (valid) credentials later on it are refused.

The auth block is read when the server starts (as ``rtsp_server`` itself, a reload does not change it).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from srs.config.schema import RtspAuthConfig
from srs.protocol.request import Request
from srs.protocol.rtsp.auth import RtspAuth, param_with_user
from srs.protocol.rtsp.message import RtspMessage, serialize_response

if TYPE_CHECKING:
    from srs.server.rtsp import RtspConnection

log = logging.getLogger("srs")


def new_auth(cfg: RtspAuthConfig) -> RtspAuth | None:
    """The credential check of a new connection (a fresh nonce), or None when auth is off."""
    if not cfg.enabled:
        return None
    return RtspAuth(cfg.realm, dict(cfg.users))


def auth_gate(conn: RtspConnection, m: RtspMessage) -> bytes | None:
    """None when ``m`` may be served; else the 401 to answer (b"" once the connection is closed)."""
    auth = conn.auth
    if auth is None or m.method == "OPTIONS":
        return None
    header = m.headers.get("authorization")
    before = auth.user
    verdict = auth.verify(m.method, header)
    if verdict.user is not None:
        if verdict.user != before:
            log.info("RTSP client ip=%s user=%s authenticated (%s)", conn.ip, verdict.user, verdict.scheme)
        return None
    if header:
        log.warning(
            "RTSP client ip=%s %s refused: %s (401 Unauthorized, %d failures)",
            conn.ip,
            m.method,
            verdict.reason,
            auth.failures,
        )
    else:
        log.info("RTSP client ip=%s %s without credentials: 401 Unauthorized", conn.ip, m.method)
    out = serialize_response(401, m.cseq, auth.challenges())
    if auth.exhausted:
        log.warning("RTSP client ip=%s closed: %d refused credentials", conn.ip, auth.failures)
        conn.transport.write(out)
        conn.close("authentication failures")
        return b""
    return out


def with_user(req: Request, auth: RtspAuth | None) -> Request:
    """The request the hooks see: ``user=<name>`` in ``param`` when the connection authenticated."""
    if auth is None or not auth.user:
        return req
    return replace(req, param=param_with_user(req.param, auth.user))


__all__ = ["auth_gate", "new_auth", "with_user"]
