"""HLS sessions: SRS's ``hls_ctx`` / ``hls_ts_ctx`` (``SrsHlsStream``, ``SrsHlsVirtualConn`` in
``srs_app_http_static.cpp``), so an HLS viewer is a client like any other.

What SRS does, and so do we, for a ``.m3u8`` file served by the HTTP static server (the file must
exist; a vhost with ``hls_ctx off`` gets plain file serving):

* A request without ``?hls_ctx=`` (or with an id we do not know) opens a session: the client is
  registered in the statistics (type ``hls-play``), then the vhost's ``security`` rules, then the
  ``on_play`` hooks (SRS's order). The answer is a tiny master playlist whose only variant is the
  same path with ``?hls_ctx=<id>``, followed by the request's query when it had no ``hls_ctx``
  (``#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1``). An unknown id is reused as the new
  session's id (a player whose session timed out keeps its URL), as SRS does.
* A request with a known ``hls_ctx`` refreshes the session; with ``hls_ts_ctx on`` (default) the
  playlist is answered with every segment URI carrying ``?hls_ctx=<id>``, rewritten as it is
  served (the file on disk stays plain for other web servers), so segment bytes are accounted to
  the session. A kicked session answers 404 "HLS stream <id> is EOF" until it expires.
* A session with no playlist request for ``2 * hls_window`` seconds ends: ``on_stop`` fires and
  the client leaves the statistics. ``DELETE /api/v1/clients/<id>`` ends it at once.

Where we differ from SRS (each on purpose):

* The client counts in the stream it plays (``/live/livestream``), not in a stream named after the
  playlist file (SRS 7.0.18 registers ``livestream.m3u8``, "Be careful that the stream has
  extension now").
* A refused session (security or ``on_play``) is answered ``403`` with a JSON body
  (``{"code": ..., "reason": ...}``) and leaves no trace; SRS closes the connection and keeps the
  refused session in its statistics until it times out, then fires ``on_stop`` for it.
* A request carrying a known id also refreshes the session with ``hls_ts_ctx off`` (SRS serves the
  file without refreshing, so the session times out while the player still plays).
* Bytes: playlists (master and media) and every file requested with a live session's ``hls_ctx``
  (TS or fMP4 segments, init segments) count as sent to that client; SRS counts ``.ts`` requests
  only. The segment rewrite is per URI line (and ``URI=`` of ``EXT-X-MAP``/``EXT-X-PART``/
  ``EXT-X-PRELOAD-HINT``), where SRS replaces the text ``.ts`` anywhere in the playlist.
* A kick fires ``on_stop`` at once (SRS fires it when the kicked session later expires).
* An unknown id is reused only when it looks like an id (1-64 of ``[0-9A-Za-z_-]``) and is not a
  connection's id, so a client cannot take over another client's statistics entry; otherwise a
  fresh id is given.
* Bounded: at most ``max_connections`` sessions (ended ones included). When full, ended sessions
  are forgotten first, then the oldest sessions whose player never came back with its id (a
  flood of playlist requests that do not follow the master playlist); when every session is in
  use the new one is refused with 503 ``{"code":1074}``. SRS has no limit.
* The sweep runs every second and ends every due session (SRS: every 5 s, one session per tick).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import web

from srs.protocol.request import parse_http
from srs.server.http_flv import client_ip
from srs.server.policy import Client
from srs.util.errors import ErrorCode, SrsError

if TYPE_CHECKING:
    from srs.config import VhostConfig
    from srs.protocol.request import Request
    from srs.server.context import ServerContext

log = logging.getLogger("srs")

CTX_PARAM = "hls_ctx"  # SRS_CONTEXT_IN_HLS
KIND = "hls-play"  # SRS SrsHlsPlay
M3U8_TYPE = "application/vnd.apple.mpegurl"
MAX_PLAYLIST_BYTES = 4 << 20  # a playlist bigger than this is served as a plain file
SWEEP_S = 1.0
_ID_RE = re.compile(r"[0-9A-Za-z_-]{1,64}")
_URI_TAGS = (b"#EXT-X-MAP:", b"#EXT-X-PART:", b"#EXT-X-PRELOAD-HINT:")
_URI_ATTR = re.compile(rb'URI="([^"]*)"')
_SECURITY_CODES = frozenset(
    {ErrorCode.SYSTEM_SECURITY, ErrorCode.SYSTEM_SECURITY_DENY, ErrorCode.SYSTEM_SECURITY_ALLOW}
)


# ---------------------------------------------------------------- sans-IO: query and playlists


def ctx_of(query: str) -> str:
    """The first ``hls_ctx`` value of a raw query string (percent-decoded), ``""`` when none."""
    if CTX_PARAM not in query:
        return ""
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k == CTX_PARAM:
            return v
    return ""


def usable_id(text: str) -> bool:
    """Whether a client's ``hls_ctx`` can become a session id (safe in a URL, bounded)."""
    return _ID_RE.fullmatch(text) is not None


def _clean(text: str) -> str:
    """No control characters in a playlist line (the raw request line cannot have them anyway)."""
    return "".join(ch if " " < ch != "\x7f" else f"%{ord(ch):02X}" for ch in text)


def master_playlist(raw_path: str, sid: str, raw_query: str) -> bytes:
    """SRS ``serve_new_session``: one variant, the same path with the session id first, then the
    request's own query when it had no (non-empty) ``hls_ctx``."""
    uri = f"{_clean(raw_path)}?{CTX_PARAM}={sid}"
    if raw_query and not ctx_of(raw_query):
        uri += "&" + _clean(raw_query)
    return ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AVERAGE-BANDWIDTH=1\n" + uri + "\n").encode()


def with_ctx(uri: bytes, sid: str) -> bytes:
    """``uri`` with ``hls_ctx=<sid>`` as its first query parameter (a fragment stays last)."""
    base, hash_, frag = uri.partition(b"#")
    param = f"{CTX_PARAM}={sid}".encode()
    if b"?" not in base:
        base += b"?" + param
    elif base.endswith(b"?"):
        base += param
    else:
        base = base.replace(b"?", b"?" + param + b"&", 1)
    return base + hash_ + frag


def rewrite_playlist(body: bytes, sid: str) -> bytes:
    """A media playlist whose segment URIs (and the URIs of ``EXT-X-MAP``, ``EXT-X-PART`` and
    ``EXT-X-PRELOAD-HINT``) carry ``hls_ctx=<sid>``; everything else byte for byte."""
    out: list[bytes] = []
    for line in body.splitlines(keepends=True):
        text = line.rstrip(b"\r\n")
        end = line[len(text) :]
        if not text.strip():
            out.append(line)
        elif text.startswith(b"#"):
            if text.startswith(_URI_TAGS):
                text = _URI_ATTR.sub(lambda m: b'URI="' + with_ctx(m.group(1), sid) + b'"', text)
            out.append(text + end)
        else:
            out.append(with_ctx(text, sid) + end)
    return b"".join(out)


# ---------------------------------------------------------------- sans-IO: the sessions table


class State(IntEnum):
    AUTHORIZING = 0  # registered, security and on_play running
    LIVE = 1
    ENDED = 2  # kicked: answers "EOF" until it expires (SRS interrupt)


class HlsSession:
    """One HLS viewer (SRS ``SrsHlsVirtualConn``): the "connection" behind its statistics entry."""

    __slots__ = (
        "_on_close",
        "cid",
        "client",
        "created",
        "deadline",
        "followed",
        "ip",
        "last_seen",
        "recv_bytes",
        "send_bytes",
        "state",
        "vhost",
    )

    def __init__(self, cid: str, ip: str, vhost: str, now: float, timeout_s: float) -> None:
        self.cid = cid
        self.ip = ip
        self.vhost = vhost
        self.created = now
        self.last_seen = now
        self.deadline = now + timeout_s
        self.state = State.AUTHORIZING
        self.followed = False  # a request came back with this id (a real player)
        self.send_bytes = 0
        self.recv_bytes = 0
        self.client: Client | None = None
        self._on_close: Callable[[HlsSession, str], None] | None = None

    @property
    def kind(self) -> str:
        return KIND

    def close(self, reason: str) -> None:
        """Kick (the API) or shutdown: the owner ends the session."""
        if self._on_close is not None:
            self._on_close(self, reason)

    def __repr__(self) -> str:
        return f"HlsSession({self.cid}, {self.state.name}, ip={self.ip})"


class HlsSessions:
    """The sessions by id: open, touch, end, expire; no I/O, times are the caller's clock."""

    def __init__(self) -> None:
        self._by_id: dict[str, HlsSession] = {}  # insertion order = opening order

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, sid: object) -> bool:
        return sid in self._by_id

    def get(self, sid: str) -> HlsSession | None:
        return self._by_id.get(sid)

    def sessions(self) -> list[HlsSession]:
        return list(self._by_id.values())

    def open(self, session: HlsSession, cap: int) -> list[HlsSession] | None:
        """Add ``session``; at ``cap`` make room first. Returns the sessions that were live and had
        to go (the caller ends them), or None (nothing added) when every session is in use."""
        if session.cid in self._by_id:
            raise ValueError(f"session {session.cid} exists")
        evicted: list[HlsSession] = []
        if len(self._by_id) >= max(1, cap):
            need = len(self._by_id) - max(1, cap) + 1
            ended = [s for s in self._by_id.values() if s.state is State.ENDED]
            idle = [s for s in self._by_id.values() if s.state is State.LIVE and not s.followed]
            victims = (ended + idle)[:need]
            if len(victims) < need:
                return None
            for s in victims:
                del self._by_id[s.cid]
                if s.state is State.LIVE:
                    evicted.append(s)
        self._by_id[session.cid] = session
        return evicted

    def touch(self, session: HlsSession, now: float, timeout_s: float) -> None:
        """A playlist request of ``session``: alive until ``now + timeout_s`` (SRS ``alive``)."""
        if session.state is State.ENDED:
            return  # SRS: an interrupted session's time is not refreshed
        session.last_seen = now
        session.deadline = now + timeout_s

    def end(self, session: HlsSession) -> bool:
        """Kick: the session stays as a tombstone until its deadline. False if it was not live."""
        if self._by_id.get(session.cid) is not session or session.state is State.ENDED:
            return False
        session.state = State.ENDED
        return True

    def remove(self, session: HlsSession) -> None:
        if self._by_id.get(session.cid) is session:
            del self._by_id[session.cid]

    def expire(self, now: float) -> list[HlsSession]:
        """Forget every session due at ``now``; returns them (the live ones need ``on_stop``)."""
        due = [s for s in self._by_id.values() if s.deadline <= now and s.state is not State.AUTHORIZING]
        for s in due:
            del self._by_id[s.cid]
        return due


# ---------------------------------------------------------------- the HTTP side


def _request_bytes(request: web.Request) -> int:
    return len(request.raw_path) + sum(len(k) + len(v) + 4 for k, v in request.raw_headers)


def _m3u8(body: bytes) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": M3U8_TYPE, "Cache-Control": "no-cache"})


class HlsPlay:
    """HLS sessions of one server: the static handler asks :meth:`serve_playlist` and
    :meth:`account`; the app's tick calls :meth:`sweep`; the API kicks through ``session.close``."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.sessions = HlsSessions()
        self.timeout_s: float | None = None  # None: SRS's 2 * hls_window (tests set a short one)
        self._last_sweep = 0.0

    def _timeout(self, vhost: VhostConfig) -> float:
        return self.timeout_s if self.timeout_s is not None else 2 * vhost.hls.window_s

    def _vhost_and_request(self, request: web.Request, ip: str) -> tuple[VhostConfig, Request] | None:
        rel = request.path.lstrip("/")
        app, _, name = rel.rpartition("/")
        stream = name[: -len(".m3u8")] if name.endswith(".m3u8") else name
        req = parse_http(request.host, request.path, request.query_string, app=app, stream=stream, ip=ip)
        try:
            vhost = self.ctx.resolve_vhost(req.vhost)
        except SrsError:
            return None
        req = replace(req.with_vhost(vhost.name), page_url=request.headers.get("Referer", ""))
        return vhost, req

    async def serve_playlist(
        self, request: web.Request, path: Path, live: Callable[[], Awaitable[bytes]] | None = None
    ) -> web.StreamResponse | None:
        """Answer a ``.m3u8`` GET as SRS's ``serve_m3u8_ctx``, or None for plain file serving.
        ``live`` gives the playlist when it is not the file (LL-HLS from memory, maybe blocking)."""
        if request.method != "GET":
            return None
        ip = client_ip(request, self.ctx)
        found = self._vhost_and_request(request, ip)
        if found is None or not found[0].hls.ctx:
            return None
        vhost, req = found
        sid = ctx_of(_raw_query(request))
        session = self.sessions.get(sid) if sid else None
        if session is not None and session.state is not State.AUTHORIZING:
            body = await live() if live is not None and session.state is not State.ENDED else None
            return self._serve_existing(request, session, vhost, path, body)
        return await self._serve_new(request, vhost, req, ip, sid)

    def _serve_existing(
        self, request: web.Request, session: HlsSession, vhost: VhostConfig, path: Path, body: bytes | None
    ) -> web.StreamResponse | None:
        if session.state is State.ENDED:
            log.warning("HLS: reject, session %s is EOF", session.cid)
            raise web.HTTPNotFound(text=f"HLS stream {session.cid} is EOF")
        if body is None:
            try:
                if path.stat().st_size > MAX_PLAYLIST_BYTES:
                    return None
                body = path.read_bytes()
            except OSError:
                raise web.HTTPNotFound() from None
        if vhost.hls.ts_ctx:
            body = rewrite_playlist(body, session.cid)
        session.followed = True
        session.recv_bytes += _request_bytes(request)
        session.send_bytes += len(body)
        self.sessions.touch(session, self.ctx.loop.time(), self._timeout(vhost))
        return _m3u8(body)

    def _new_id(self, asked: str) -> str:
        taken = self.ctx.connections
        if asked and usable_id(asked) and asked not in self.sessions and asked not in taken:
            return asked  # SRS: an unknown hls_ctx becomes the new session's id
        while True:
            sid = self.ctx.new_cid()
            if sid not in self.sessions:
                return sid

    async def _serve_new(
        self, request: web.Request, vhost: VhostConfig, req: Request, ip: str, asked: str
    ) -> web.StreamResponse:
        ctx = self.ctx
        now = ctx.loop.time()
        session = HlsSession(self._new_id(asked), ip, vhost.name, now, self._timeout(vhost))
        evicted = self.sessions.open(session, ctx.config.max_connections)
        if evicted is None:
            log.warning("drop HLS client ip=%s: %d sessions (max_connections)", ip, len(self.sessions))
            raise web.HTTPServiceUnavailable(text='{"code":1074}', content_type="application/json")
        for old in evicted:
            log.warning(
                "HLS session %s ip=%s evicted: the table is full and it never came back", old.cid, old.ip
            )
            self._stopped(old, "evicted")
        session._on_close = self._kicked
        policy = ctx.policy
        client = session.client = Client(session, req, KIND)
        registered = False
        try:
            # SRS's order: statistics, then security, then the on_play hooks.
            policy.on_client(client)
            registered = True
            policy.check_security(client)
            await policy.on_play(client)
        except SrsError as e:
            self.sessions.remove(session)
            if registered:
                policy.on_disconnect(client, True)
            code = int(e.code)
            what = "security" if code in _SECURITY_CODES else "on_play"
            log.warning("HLS client ip=%s url=%s rejected by %s: %s", ip, req.stream_url, what, e)
            reason = json.dumps({"code": code, "reason": f"hls play denied by {what}"})
            raise web.HTTPForbidden(text=reason, content_type="application/json") from None
        if session.state is not State.AUTHORIZING:  # kicked or gone while the hook ran
            raise web.HTTPNotFound(text=f"HLS stream {session.cid} is EOF")
        session.state = State.LIVE
        body = master_playlist(request.raw_path.split("?", 1)[0], session.cid, _raw_query(request))
        session.recv_bytes += _request_bytes(request)
        session.send_bytes += len(body)
        self.sessions.touch(session, ctx.loop.time(), self._timeout(vhost))
        log.info("HLS play ip=%s url=%s ctx=%s param=%s", ip, req.stream_url, session.cid, req.param or "-")
        return _m3u8(body)

    def account(self, request: web.Request, path: Path, size: int | None = None) -> None:
        """A file (segment, init) requested with a live session's ``hls_ctx``: its bytes are that
        client's (SRS ``on_serve_ts_ctx``)."""
        sid = ctx_of(_raw_query(request))
        session = self.sessions.get(sid) if sid else None
        if session is None or session.state is not State.LIVE:
            return
        session.recv_bytes += _request_bytes(request)
        if request.method == "GET":
            try:
                session.send_bytes += path.stat().st_size if size is None else size
            except OSError:
                pass

    # ------------------------------------------------------------- ending sessions

    def _stopped(self, session: HlsSession, why: str) -> None:
        """A live session ends: on_stop, then it leaves the statistics."""
        client = session.client
        if client is None:
            return
        log.info("HLS stop ctx=%s ip=%s url=%s (%s) sent=%d", session.cid, session.ip,
                 client.request.stream_url, why, session.send_bytes)  # fmt: skip
        policy = self.ctx.policy
        policy.on_stop(client)
        policy.on_disconnect(client, False)

    def _kicked(self, session: HlsSession, reason: str) -> None:
        if session.state is State.AUTHORIZING:
            session.state = State.ENDED  # the hook is running: _serve_new cleans up
            self.sessions.remove(session)
            if session.client is not None:
                self.ctx.policy.on_disconnect(session.client, False)
            return
        if self.sessions.end(session):
            self._stopped(session, reason)

    def sweep(self) -> None:
        """End the sessions that saw no playlist request in time; at most once a second."""
        now = self.ctx.loop.time()
        if now - self._last_sweep < SWEEP_S:
            return
        self._last_sweep = now
        for s in self.sessions.expire(now):
            if s.state is State.LIVE:
                self._stopped(s, "timeout")

    def close(self) -> None:
        """Server stop: forget every session (no hooks, as SRS)."""
        for s in self.sessions.sessions():
            self.sessions.remove(s)


def _raw_query(request: web.Request) -> str:
    _, _, q = request.raw_path.partition("?")
    return q.split("#", 1)[0]
