"""HTTP callbacks (``vhost.http_hooks``), reference section 4.

Every hook POSTs SRS's JSON (:mod:`srs.control.hooks_payload`) to each configured URL in order,
with SRS's headers, through one shared :class:`aiohttp.ClientSession` (created on first use), so
a slow hook server only delays the client whose hook is waiting, never the media of others.

* Blocking hooks (``on_connect``, ``on_publish``, ``on_play``): the first URL that fails stops the
  chain and raises :class:`~srs.util.errors.AccessDeniedError`; the adapter closes the client.
* Fire-and-forget hooks (``on_close``, ``on_unpublish``, ``on_stop``): the body is built at once
  (so ``stream_id`` and byte counts are those of the moment the event happened), the POSTs run in a
  background task; failures are only logged. Pending tasks are cancelled by :meth:`close`.
* File hooks (``on_dvr``, ``on_hls``, ``on_hls_notify``) for the outputs: run in the background,
  in order per stream (SRS runs them on one async worker after the file is closed).

At shutdown, calls under way get :data:`SHUTDOWN_GRACE_S` to finish, then are cancelled.

The current config is read at each call, so a reload of hook URLs applies to the next event.
SRS compat: https hook servers are not verified (SRS's SSL client accepts any certificate, so
self-signed hook servers work).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp

from srs import SIGNATURE
from srs.config import DEFAULT_VHOST
from srs.config.schema_vhost import HttpHooksConfig
from srs.control import hooks_payload as hp
from srs.util.errors import AccessDeniedError, ErrorCode

if TYPE_CHECKING:
    from srs.protocol.request import Request
    from srs.server.context import ServerContext
    from srs.server.policy import Client

log = logging.getLogger("srs")

HOOK_TIMEOUT_S = 30.0  # SRS_HTTP_CLIENT_TIMEOUT: connect + request + response of one hook call
HLS_NOTIFY_TIMEOUT_S = 10.0  # SRS_HLS_NOTIFY_TIMEOUT
SHUTDOWN_GRACE_S = 1.0  # at shutdown, how long fire-and-forget calls under way may still take
# Idle keep-alive connections to hook servers are dropped before common server idle timeouts
# (Node.js closes after 5 s), so a reused connection is rarely one the server is closing.
KEEPALIVE_S = 4.0
HEADERS = {
    "User-Agent": SIGNATURE,
    "Content-Type": "application/json",
    "Connection": "Keep-Alive",
}


class HttpHooks:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.timeout_s = HOOK_TIMEOUT_S  # tests shorten these
        self.hls_notify_timeout_s = HLS_NOTIFY_TIMEOUT_S
        self.shutdown_grace_s = SHUTDOWN_GRACE_S
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._chains: dict[str, asyncio.Task[Any]] = {}
        self._closed = False

    # ------------------------------------------------------------------ config

    def _config(self, vhost: str) -> HttpHooksConfig | None:
        """The vhost's hooks when enabled (SRS falls back to the default vhost's config)."""
        cfg = self.ctx.config
        v = cfg.vhost(vhost) or cfg.vhost(DEFAULT_VHOST)
        if v is None or not v.http_hooks.enabled:
            return None
        return v.http_hooks

    def _urls(self, vhost: str, hook: str) -> tuple[str, ...]:
        if self._closed:
            return ()
        h = self._config(vhost)
        if h is None:
            return ()
        urls: tuple[str, ...] = getattr(h, hook)
        return urls

    def _ids(self) -> tuple[str, str]:
        ident = self.ctx.identity
        return ident.server_id, ident.service_id

    def _stream_id(self, stream_url: str) -> str | None:
        """The statistics id of the stream (``stream_id`` of the payloads), if stats know it."""
        stats = getattr(self.ctx.policy, "stats", None)
        if stats is None:
            return None
        try:
            find = getattr(stats, "stream_by_url", None)
            if find is not None:
                st = find(stream_url)
            else:
                st = next((s for s in stats.streams() if s.url == stream_url), None)
        except (AttributeError, TypeError):
            return None
        sid = getattr(st, "id", None) if st is not None else None
        return sid if isinstance(sid, str) and sid else None

    # ------------------------------------------------------------------ blocking hooks

    async def on_connect(self, client: Client) -> None:
        """Blocking: raise ``AccessDeniedError`` when a hook refuses."""
        req = client.request
        urls = self._urls(req.vhost, "on_connect")
        if urls:
            sid, svc = self._ids()
            tc_url = hp.hook_tc_url(client.kind, req)
            await self._blocking("on_connect", urls, hp.connect_payload(sid, svc, client.cid, req, tc_url))

    async def on_publish(self, client: Client) -> None:
        """Blocking."""
        req = client.request
        urls = self._urls(req.vhost, "on_publish")
        if urls:
            await self._blocking("on_publish", urls, self._publish_body("on_publish", client))

    async def on_play(self, client: Client) -> None:
        """Blocking."""
        req = client.request
        urls = self._urls(req.vhost, "on_play")
        if urls:
            sid, svc = self._ids()
            body = hp.play_payload(
                sid,
                svc,
                client.cid,
                req,
                hp.hook_tc_url(client.kind, req),
                self._stream_id(req.stream_url),
            )
            await self._blocking("on_play", urls, body)

    async def _blocking(self, action: str, urls: tuple[str, ...], payload: hp.Payload) -> None:
        """Call each URL in order; the first refusal rejects the client (SRS ``do_post``)."""
        data = hp.encode(payload)
        for url in urls:
            why = await self._post(url, data)
            if why is not None:
                log.warning("http hook %s refused by %s: %s, request=%s", action, url, why, data.decode())
                raise AccessDeniedError(f"http hook {action} {url}: {why}", hook_error_code(why))
            log.info("http hook %s ok, url=%s, client_id=%s", action, url, payload.get("client_id"))

    # ------------------------------------------------------------------ fire and forget

    def on_unpublish(self, client: Client) -> None:
        """Fire and forget."""
        req = client.request
        urls = self._urls(req.vhost, "on_unpublish")
        if urls:
            self._spawn(self._notify("on_unpublish", urls, self._publish_body("on_unpublish", client)))

    def on_stop(self, client: Client) -> None:
        """Fire and forget."""
        req = client.request
        urls = self._urls(req.vhost, "on_stop")
        if urls:
            self._spawn(self._notify("on_stop", urls, self._publish_body("on_stop", client)))

    def on_close(self, client: Client) -> None:
        """Fire and forget."""
        req = client.request
        urls = self._urls(req.vhost, "on_close")
        if urls:
            sid, svc = self._ids()
            conn = client.conn
            body = hp.close_payload(sid, svc, client.cid, req, conn.send_bytes, conn.recv_bytes)
            self._spawn(self._notify("on_close", urls, body))

    def _publish_body(self, action: str, client: Client) -> hp.Payload:
        req = client.request
        sid, svc = self._ids()
        tc_url = hp.hook_tc_url(client.kind, req)
        return hp.publish_payload(sid, svc, action, client.cid, req, tc_url, self._stream_id(req.stream_url))

    async def _notify(self, action: str, urls: tuple[str, ...], payload: hp.Payload) -> bool:
        """POST to every URL (SRS calls them all, whatever the others answered); True if all ok."""
        data = hp.encode(payload)
        ok = True
        for url in urls:
            why = await self._post(url, data)
            if why is None:
                log.info("http hook %s ok, url=%s, client_id=%s", action, url, payload.get("client_id"))
            else:
                ok = False
                log.warning(
                    "http hook %s failed (ignored): %s: %s, request=%s", action, url, why, data.decode()
                )
        return ok

    # ------------------------------------------------------------------ file hooks (outputs)

    def on_dvr(self, cid: str, req: Request, file: str) -> asyncio.Task[bool] | None:
        """A DVR file was closed: ``file`` relative to the working directory, as SRS reports it.

        Runs in the background, after earlier file hooks of the same stream; the first failing
        URL stops the chain (logged). Returns the task (``None`` when nothing is configured).
        """
        urls = self._urls(req.vhost, "on_dvr")
        if not urls:
            return None
        sid, svc = self._ids()
        body = hp.dvr_payload(sid, svc, cid, req, os.getcwd(), file, self._stream_id(req.stream_url))
        return self._ordered(req.stream_url, lambda: self._chain("on_dvr", urls, body))

    def on_hls(
        self,
        cid: str,
        req: Request,
        *,
        file: str,
        ts_url: str,
        m3u8: str,
        m3u8_url: str,
        seq_no: int,
        duration_s: float,
    ) -> asyncio.Task[bool] | None:
        """An HLS segment was closed (same ordering and failure rules as :meth:`on_dvr`)."""
        urls = self._urls(req.vhost, "on_hls")
        if not urls:
            return None
        sid, svc = self._ids()
        body = hp.hls_payload(
            sid,
            svc,
            cid,
            req,
            duration_s=duration_s,
            cwd=os.getcwd(),
            file=file,
            ts_url=ts_url,
            m3u8=m3u8,
            m3u8_url=m3u8_url,
            seq_no=seq_no,
            stream_id=self._stream_id(req.stream_url),
        )
        return self._ordered(req.stream_url, lambda: self._chain("on_hls", urls, body))

    def on_hls_notify(self, cid: str, req: Request, ts_url: str) -> asyncio.Task[bool] | None:
        """A GET per configured URL template (for CDN prefetch); reads at most ``hls_nb_notify``
        bytes of the answer, which is ignored. SRS compat: every URL is called (full.conf says a
        random one)."""
        urls = self._urls(req.vhost, "on_hls_notify")
        if not urls:
            return None
        v = self.ctx.config.vhost(req.vhost) or self.ctx.config.vhost(DEFAULT_VHOST)
        nb_notify = max(1, v.hls.nb_notify) if v is not None else 64
        sid, svc = self._ids()
        targets = [hp.hls_notify_url(u, sid, svc, req, ts_url) for u in urls]
        return self._ordered(req.stream_url, lambda: self._get_all(cid, targets, nb_notify))

    async def _chain(self, action: str, urls: tuple[str, ...], payload: hp.Payload) -> bool:
        try:
            await self._blocking(action, urls, payload)
        except AccessDeniedError:
            return False
        return True

    async def _get_all(self, cid: str, urls: list[str], nb_notify: int) -> bool:
        ok = True
        for url in urls:
            why = await self._get(url, nb_notify)
            if why is None:
                log.info("http hook on_hls_notify ok, url=%s, client_id=%s", url, cid)
            else:
                ok = False
                log.warning("http hook on_hls_notify failed (ignored): %s: %s", url, why)
        return ok

    # ------------------------------------------------------------------ HTTP

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # ssl=False: SRS compat, hook servers' certificates are not verified (see module doc).
            conn = aiohttp.TCPConnector(ssl=False, limit=0, keepalive_timeout=KEEPALIVE_S)
            self._session = aiohttp.ClientSession(connector=conn, headers=HEADERS)
        return self._session

    async def _post(self, url: str, data: bytes) -> str | None:
        """POST ``data``; ``None`` on success (SRS's rule), else the reason of the failure."""
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            async with self.session().post(url, data=data, timeout=timeout) as resp:
                body = await _read_body(resp, hp.MAX_RESPONSE_BYTES + 1)
                if len(body) > hp.MAX_RESPONSE_BYTES:
                    return f"response larger than {hp.MAX_RESPONSE_BYTES} bytes"
                return hp.judge(resp.status, body)
        except TimeoutError:
            return f"timeout after {self.timeout_s:g}s"
        except (aiohttp.ClientError, ValueError, OSError, RuntimeError) as e:
            # ValueError: a URL aiohttp cannot use (bad scheme, no host) is a failing hook;
            # RuntimeError: the session was closed under us (shutdown)
            return f"{type(e).__name__}: {e}"

    async def _get(self, url: str, nb_notify: int) -> str | None:
        try:
            timeout = aiohttp.ClientTimeout(total=self.hls_notify_timeout_s)
            async with self.session().get(url, timeout=timeout) as resp:
                await _read_body(resp, nb_notify)
                return None if resp.status < 400 else f"status {resp.status}"
        except TimeoutError:
            return f"timeout after {self.hls_notify_timeout_s:g}s"
        except (aiohttp.ClientError, ValueError, OSError, RuntimeError) as e:
            return f"{type(e).__name__}: {e}"

    # ------------------------------------------------------------------ background tasks

    def _spawn(self, coro: Coroutine[Any, Any, bool]) -> asyncio.Task[bool]:
        task = self.ctx.loop.create_task(coro)  # copies the context: logs keep the client's id
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("http hook task failed: %r", task.exception())

    def _ordered(self, key: str, call: Callable[[], Coroutine[Any, Any, bool]]) -> asyncio.Task[bool]:
        """Run after the previous file hook of the same stream (SRS's one async worker keeps
        segment order; different streams do not wait for each other here)."""
        prev = self._chains.get(key)

        async def run() -> bool:
            if prev is not None and not prev.done():
                await asyncio.wait([prev])
            return await call()

        task = self._spawn(run())
        self._chains[key] = task

        def forget(t: asyncio.Task[Any]) -> None:
            if self._chains.get(key) is t:
                del self._chains[key]

        task.add_done_callback(forget)
        return task

    async def drain(self) -> None:
        """Wait for the pending background calls (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self) -> None:
        """Stop pending calls and release the HTTP client (at shutdown).

        Calls already under way get ``shutdown_grace_s`` to finish (so a graceful stop still tells
        hook servers about the streams it ended), then the rest are cancelled."""
        self._closed = True
        tasks = list(self._tasks)
        if tasks and self.shutdown_grace_s > 0:
            await asyncio.wait(tasks, timeout=self.shutdown_grace_s)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._chains.clear()
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None


async def _read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body (``StreamReader.read(n)`` may return less than is coming)."""
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(65536):
        buf += chunk
        if len(buf) >= limit:
            break
    return bytes(buf[:limit])


def hook_error_code(why: str) -> ErrorCode:
    """SRS's code for a refused hook (``SrsHttpHooks::do_post``): bad status, bad code, bad body."""
    if why.startswith("status"):
        return ErrorCode.HTTP_STATUS_INVALID
    if "code" in why:
        return ErrorCode.RESPONSE_CODE
    return ErrorCode.HTTP_DATA_INVALID
