"""Composition root: build everything from a Config, start, reload, stop.

Listeners are kept by endpoint so that a reload can add and remove ports without touching the
connections already accepted (an asyncio server that stops listening keeps its connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from srs import SIGNATURE
from srs.config import Config, ConfigError, Endpoint, diff, load_config
from srs.control import api
from srs.control.heartbeat import Heartbeat
from srs.control.hooks import HttpHooks
from srs.control.plane import ControlPlane
from srs.control.security import Security
from srs.control.stats import Statistics
from srs.server.context import ServerContext, ServerIdentity, new_id, now_ms
from srs.server.http import ensure_dir, make_app
from srs.server.rtmp import serve_rtmp
from srs.util import log as srslog

log = logging.getLogger("srs")

TICK_S = 0.1
STATS_SAMPLE_MS = 1000


@dataclass
class ReloadResult:
    ok: bool
    message: str
    changes: list[str] = field(default_factory=list)
    rid: str = field(default_factory=lambda: new_id(7))  # SRS reload-fetch "rid"


def _host(ep: Endpoint) -> str:
    return ep.host or "0.0.0.0"


class HttpListener:
    """One aiohttp runner + site on one endpoint."""

    def __init__(self, app: web.Application, endpoint: Endpoint) -> None:
        self.app = app
        self.endpoint = endpoint
        self.runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        self.site: web.TCPSite | None = None

    async def start(self) -> None:
        await self.runner.setup()
        self.site = web.TCPSite(self.runner, _host(self.endpoint), self.endpoint.port, reuse_address=True)
        await self.site.start()

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def port(self) -> int:
        assert self.site is not None
        socks = getattr(self.site._server, "sockets", None)
        if socks:
            return int(socks[0].getsockname()[1])
        return self.endpoint.port


class App:
    def __init__(
        self,
        config: Config,
        *,
        config_path: str | None = None,
        env: Mapping[str, str] | None = None,
        env_only: bool = False,
        identity: ServerIdentity | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.env = dict(env or {})
        self.env_only = env_only
        self.identity = identity or ServerIdentity(
            server_id=config.server_id or f"vid-{new_id(7)}", service_id=new_id(8), pid=os.getpid()
        )
        self.ctx: ServerContext | None = None
        self.rtmp: dict[Endpoint, asyncio.Server] = {}
        self.http_server: HttpListener | None = None
        self.http_api: HttpListener | None = None
        self._tick: asyncio.TimerHandle | None = None
        self.stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_sample_ms = 0
        self.last_reload: ReloadResult | None = None

    # ------------------------------------------------------------------ start

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.ctx = ServerContext(self.config, loop, self.identity)
        ctx = self.ctx
        self.stats = Statistics(ctx)
        self.hooks = HttpHooks(ctx)
        ctx.policy = ControlPlane(Security(ctx), self.hooks, self.stats)
        self.heartbeat = Heartbeat(ctx, self.stats)
        self.heartbeat.start()
        for line in self.config.unsupported:
            log.warning("%s", line)
        for line in self.config.warnings:
            log.warning("%s", line)
        for ep in self.config.listen:
            await self._start_rtmp(ep)
        await self._start_http()
        self._schedule_tick()
        log.info(
            "%s started, pid=%d, rtmp=%s, http_server=%s, http_api=%s",
            SIGNATURE,
            self.identity.pid,
            ",".join(f"{_host(e)}:{p}" for e, p in self.rtmp_ports().items()),
            self.http_server.port if self.http_server else "off",
            self.http_api.port if self.http_api else ("shared" if self._api_shared() else "off"),
        )

    async def _start_rtmp(self, ep: Endpoint) -> None:
        assert self.ctx is not None
        self.rtmp[ep] = await serve_rtmp(self.ctx, ep.host, ep.port)

    def _api_shared(self) -> bool:
        c = self.config
        return c.http_api.enabled and c.http_server.enabled and c.http_api.listen == c.http_server.listen

    async def _start_http(self) -> None:
        assert self.ctx is not None
        c = self.config
        shared = self._api_shared()
        ctx = self.ctx

        deps = api.ApiDeps(
            ctx=ctx, stats=self.stats, reload=self.reload, last_reload=lambda: self.last_reload
        )

        def full_api(index: bool) -> Callable[[web.Application], None]:
            return lambda app: api.add_routes(app, deps, index=index)

        def versions_only(app: web.Application) -> None:
            # SRS compat: /api/v1/versions is always answered on the HTTP server port (readiness probe).
            app.router.add_route("*", "/api/v1/versions", api.handler(deps, api.versions))

        if c.http_server.enabled:
            ensure_dir(c.http_server.dir)
            app = make_app(ctx, streams=True, routes=full_api(False) if shared else versions_only)
            self.http_server = HttpListener(app, c.http_server.listen)
            await self.http_server.start()
        if c.http_api.enabled and not shared:
            app = make_app(ctx, streams=False, routes=full_api(True))
            self.http_api = HttpListener(app, c.http_api.listen)
            await self.http_api.start()

    async def _stop_http(self) -> None:
        for lst in (self.http_server, self.http_api):
            if lst is not None:
                await lst.stop()
        self.http_server = self.http_api = None

    def rtmp_ports(self) -> dict[Endpoint, int]:
        out = {}
        for ep, server in self.rtmp.items():
            socks = server.sockets
            out[ep] = int(socks[0].getsockname()[1]) if socks else ep.port
        return out

    def _schedule_tick(self) -> None:
        assert self.ctx is not None
        self._tick = self.ctx.loop.call_later(TICK_S, self._on_tick)

    def _on_tick(self) -> None:
        assert self.ctx is not None
        now = now_ms()
        self.ctx.registry.tick(now)
        if now - self._last_sample_ms >= STATS_SAMPLE_MS:
            self._last_sample_ms = now
            self.stats.sample(now / 1000)
        self._schedule_tick()

    # ------------------------------------------------------------------ reload

    def _load(self) -> Config:
        return load_config(None if self.env_only else self.config_path, env=self.env, env_only=self.env_only)

    async def reload(self, new: Config | None = None) -> ReloadResult:
        """SIGHUP / API reload: load the config again and apply what changed."""
        assert self.ctx is not None
        try:
            cfg = new if new is not None else self._load()
        except ConfigError as e:
            log.error("reload failed, keep the running config: %s", e)
            self.last_reload = ReloadResult(False, str(e))
            return self.last_reload
        d = diff(self.config, cfg)
        old = self.config
        self.config = cfg
        self.ctx.config = cfg
        changes: list[str] = []
        if d.logging_changed:
            setup_logging(cfg)
            changes.append("logging")
        if d.rtmp_listen_changed:
            want = set(cfg.listen)
            for ep in list(self.rtmp):
                if ep not in want:
                    self.rtmp.pop(ep).close()
                    changes.append(f"rtmp -{ep}")
            for ep in cfg.listen:
                if ep not in self.rtmp:
                    await self._start_rtmp(ep)
                    changes.append(f"rtmp +{ep}")
        if d.http_api_changed or d.http_server_changed:
            await self._reload_http(old, cfg)
            changes.append("http")
        for name in d.vhosts_removed:
            self._close_vhost_clients(name, "vhost removed")
            changes.append(f"vhost -{name}")
        for name in d.vhosts_added:
            changes.append(f"vhost +{name}")
        for name, sections in d.vhosts_changed.items():
            v = cfg.vhost(name)
            if v is not None and not v.enabled:
                self._close_vhost_clients(name, "vhost disabled")
            self.ctx.registry.update_vhost(name)
            changes.append(f"vhost ~{name}({','.join(sorted(sections))})")
        for line in cfg.unsupported:
            if line not in old.unsupported:
                log.warning("%s", line)
        log.info("reload ok: %s", "; ".join(changes) or "nothing changed")
        self.last_reload = ReloadResult(True, "ok", changes)
        return self.last_reload

    async def _reload_http(self, old: Config, new: Config) -> None:
        """Restart HTTP listeners whose endpoint or role changed; live HTTP players keep going."""
        assert self.ctx is not None
        # Stopping a site only stops listening; accepted connections stay until they end.
        for lst in (self.http_server, self.http_api):
            if lst is not None and lst.site is not None:
                await lst.site.stop()
        old_listeners = [x for x in (self.http_server, self.http_api) if x is not None]
        self.http_server = self.http_api = None
        await self._start_http()
        for lst in old_listeners:
            # Keep the old runners alive until their connections end, then clean up.
            task = self.ctx.loop.create_task(self._retire(lst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _retire(self, lst: HttpListener) -> None:
        server = lst.runner.server
        while server is not None and server.connections:
            await asyncio.sleep(1)
        with contextlib.suppress(Exception):
            await lst.runner.cleanup()

    def _close_vhost_clients(self, vhost: str, reason: str) -> None:
        assert self.ctx is not None
        for src in self.ctx.registry.sources_of(vhost):
            pub = src.publisher
            if pub is not None and hasattr(pub, "close"):
                pub.close(reason)
            for c in list(src.consumers):
                sink = c.sink
                if hasattr(sink, "conn"):
                    sink.conn.close(reason)
                else:
                    sink.on_unpublish()

    # ------------------------------------------------------------------ stop

    async def stop(self, *, graceful: bool = True) -> None:
        """Stop listening, end every client cleanly (graceful) or at once, then release."""
        if self.ctx is None or self.ctx.closing:
            return
        ctx = self.ctx
        ctx.closing = True
        log.info("%s stopping (%s)", SIGNATURE, "graceful" if graceful else "fast")
        if self._tick is not None:
            self._tick.cancel()
        for server in self.rtmp.values():
            server.close()
        if graceful:
            # Publishers first: their last messages are flushed to players, then players end.
            for conn in ctx.iter_connections():
                if conn.kind.endswith("publish"):
                    conn.close("server stopping")
            ctx.close_all("server stopping")
            await asyncio.sleep(0.05)
        else:
            ctx.close_all("server stopping")
        await self._stop_http()
        await self.heartbeat.stop()
        await self.hooks.close()
        for server in self.rtmp.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self.rtmp.clear()
        log.info("%s stopped", SIGNATURE)
        self.stopped.set()


def setup_logging(cfg: Config, *, force_console: bool = False) -> None:
    tank = "console" if force_console else cfg.srs_log_tank
    srslog.setup(
        tank=tank,
        file=cfg.srs_log_file,
        level=srslog.level_from_config(cfg.srs_log_level, cfg.srs_log_level_v2),
        utc=cfg.utc_time,
    )
