"""Heartbeat (``heartbeat``): periodic POST so a proxy or dashboard can register this server.

SRS ``SrsHttpHeartbeat``: every ``interval`` seconds POST ``{device_id, ip, server, service, pid}``
plus ``summaries: {data: ...}`` (the ``/api/v1/summaries`` data) when ``summaries on`` and the
listen endpoints (``rtmp``, ``http``, ``api``, ``srt``, ``rtc``) when ``ports on``. The answer is
ignored. The config is read at every tick, so a reload turns it on/off or changes URL and interval.
A failing target is logged once per distinct error, not every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

import aiohttp
import psutil

from srs import SIGNATURE
from srs.control.api_system import summaries_data
from srs.control.hooks_payload import encode

if TYPE_CHECKING:
    from srs.config import Config
    from srs.control.stats import Statistics
    from srs.server.context import ServerContext

log = logging.getLogger("srs")

HEARTBEAT_TIMEOUT_S = 30.0  # SRS_HTTP_CLIENT_TIMEOUT
IDLE_POLL_S = 1.0  # while disabled: how soon a reload that enables it is noticed


def device_ip(network_index: int, env: dict[str, str] | None = None) -> str:
    """``SRS_DEVICE_IP``, else the ``stats.network``-th local IPv4 address (SRS ``srs_get_local_ips``
    order: interfaces as the OS lists them, loopback last)."""
    e = os.environ if env is None else env
    ip = e.get("SRS_DEVICE_IP", "")
    if ip:
        return ip
    public: list[str] = []
    loopback: list[str] = []
    with contextlib.suppress(OSError):
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family == socket.AF_INET and a.address:
                    (loopback if a.address.startswith("127.") else public).append(a.address)
    ips = public + loopback
    return ips[network_index % len(ips)] if ips else ""


def ports_of(cfg: Config) -> dict[str, list[str]]:
    """The listen endpoints as SRS reports them (``ports on``)."""
    out: dict[str, list[str]] = {"rtmp": [str(ep) for ep in cfg.listen]}
    if cfg.http_server.enabled:
        out["http"] = [str(cfg.http_server.listen)]
    if cfg.http_api.enabled:
        out["api"] = [str(cfg.http_api.listen)]
    if cfg.srt_server.enabled:
        out["srt"] = [f"udp://0.0.0.0:{cfg.srt_server.listen}"]
    if cfg.rtc_server.enabled:
        rtc = [f"udp://0.0.0.0:{cfg.rtc_server.listen}"]
        if cfg.rtc_server.tcp.enabled:
            rtc.append(f"tcp://0.0.0.0:{cfg.rtc_server.tcp.listen}")
        out["rtc"] = rtc
    return out


class Heartbeat:
    def __init__(self, ctx: ServerContext, stats: Statistics) -> None:
        self.ctx = ctx
        self.stats = stats
        self.timeout_s = HEARTBEAT_TIMEOUT_S
        self.idle_poll_s = IDLE_POLL_S
        self.sent = 0  # POSTs that got an answer (any status)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._last_error: str | None = None

    def start(self) -> None:
        """Start the periodic task (reads ``ctx.config.heartbeat`` at each tick)."""
        if self._task is None or self._task.done():
            self._task = self.ctx.loop.create_task(self._run())

    async def stop(self) -> None:
        """Stop the periodic task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            hb = self.ctx.config.heartbeat
            # SRS: the first beat goes out one interval after start (a timer, not at once).
            await asyncio.sleep(max(0.1, float(hb.interval_s)) if hb.enabled else self.idle_poll_s)
            hb = self.ctx.config.heartbeat
            if hb.enabled:
                await self.beat()

    def payload(self) -> dict[str, Any]:
        cfg = self.ctx.config
        hb = cfg.heartbeat
        ident = self.ctx.identity
        body: dict[str, Any] = {
            "device_id": hb.device_id,
            "ip": device_ip(cfg.stats.network),
            "server": ident.server_id,
            "service": ident.service_id,
            "pid": str(ident.pid),
        }
        if hb.summaries:
            body["summaries"] = {"data": self._summaries()}
        if hb.ports:
            body.update(ports_of(cfg))
        return body

    def _summaries(self) -> dict[str, Any]:
        """The same data as ``/api/v1/summaries``."""
        return summaries_data(self.ctx, self.stats)

    async def beat(self) -> None:
        """One heartbeat POST now; the answer is ignored, errors logged once per distinct error."""
        url = self.ctx.config.heartbeat.url
        try:
            data = encode(self.payload())
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=False),
                    headers={"User-Agent": SIGNATURE, "Content-Type": "application/json"},
                )
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            async with self._session.post(url, data=data, timeout=timeout) as resp:
                await resp.read()
            self.sent += 1
            if self._last_error is not None:
                log.info("heartbeat to %s ok again", url)
            self._last_error = None
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a heartbeat never harms the server: any failure is a log line
            err = f"{type(e).__name__}: {e}"
            if err != self._last_error:
                log.warning("heartbeat to %s failed: %s", url, err)
            self._last_error = err
