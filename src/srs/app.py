"""Composition root: build everything from a Config, start, reload, stop.

Listeners are kept by endpoint so that a reload can add and remove ports without touching the
connections already accepted (an asyncio server that stops listening keeps its connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from srs import SIGNATURE
from srs.config import Config, ConfigError, Endpoint, HttpsConfig, diff, load_config
from srs.control import api, metrics
from srs.control.heartbeat import Heartbeat
from srs.control.hooks import HttpHooks
from srs.control.plane import ControlPlane
from srs.control.security import Security
from srs.control.stats import Statistics
from srs.output.dash import DashOutputs
from srs.output.dvr import DvrOutputs
from srs.output.hls import HlsOutputs
from srs.protocol.request import Request
from srs.remux.hls import SegmentClosed
from srs.server.casters import Caster, start_casters
from srs.server.context import HTTP_RECV_TIMEOUT_S, ServerContext, ServerIdentity, new_id, now_ms
from srs.server.hls_play import HlsPlay
from srs.server.http import ensure_dir, load_tls, make_app, tls_context
from srs.server.http_conn import HttpConnections, track_connections
from srs.server.llhls import LlStore
from srs.server.rtc.server import RtcServer
from srs.server.rtmp import serve_rtmp
from srs.server.rtsp import RtspServer
from srs.server.srt.server import SrtServer, start_srt
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


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """What one HTTP listener serves; a reload restarts a listener only when its spec changes.

    ``api``: ``"full"`` the API mux with its ``/`` index, ``"shared"`` the API without ``/`` (on the
    HTTP server port), ``"versions"`` only ``/api/v1/versions`` (SRS's HTTP server alone).
    """

    role: str  # http_server | https_server | http_api | https_api | exporter
    endpoint: Endpoint
    streams: bool  # live streams, then static files
    api: str
    tls: HttpsConfig | None = None

    @property
    def tls_where(self) -> str:
        return "http_api.https" if self.role == "https_api" else "http_server.https"


def http_listener_specs(c: Config) -> dict[str, ListenerSpec]:
    """The HTTP listeners a config asks for, with SRS's port sharing (reference 1.1).

    The API shares the HTTP server when both are on and their HTTP (and so, by the config check,
    HTTPS) endpoints are equal. The exporter port serves the API mux (``srs_app_server.cpp``: the
    exporter listener is handed ``http_api_mux_``, which is the HTTP server's when shared).
    """
    api, server = c.http_api, c.http_server
    shared = api.enabled and server.enabled and api.listen == server.listen
    out: dict[str, ListenerSpec] = {}
    if server.enabled:
        kind = "shared" if shared else "versions"
        out["http_server"] = ListenerSpec("http_server", server.listen, True, kind)
        if server.https.enabled:
            out["https_server"] = ListenerSpec("https_server", server.https.listen, True, kind, server.https)
    if api.enabled and not shared:
        out["http_api"] = ListenerSpec("http_api", api.listen, False, "full")
        if api.https.enabled:
            out["https_api"] = ListenerSpec("https_api", api.https.listen, False, "full", api.https)
    if c.exporter.enabled:
        out["exporter"] = ListenerSpec("exporter", c.exporter.listen, shared, "shared" if shared else "full")
    return out


class HttpListener:
    """One aiohttp runner + site on one endpoint, plain or TLS."""

    def __init__(
        self,
        app: web.Application,
        endpoint: Endpoint,
        *,
        ssl_context: ssl.SSLContext | None = None,
        spec: ListenerSpec | None = None,
        conns: HttpConnections | None = None,
        recv_timeout_s: float = HTTP_RECV_TIMEOUT_S,
    ) -> None:
        self.app = app
        self.endpoint = endpoint
        self.ssl_context = ssl_context
        self.spec = spec
        self.conns = conns
        # keepalive_timeout: SRS's HTTP receive timeout (see srs.server.http_conn).
        self.runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, keepalive_timeout=recv_timeout_s
        )
        self.site: web.TCPSite | None = None

    async def start(self) -> None:
        await self.runner.setup()
        if self.conns is not None and self.runner.server is not None:
            track_connections(self.runner.server, self.conns)
        self.site = web.TCPSite(
            self.runner,
            _host(self.endpoint),
            self.endpoint.port,
            reuse_address=True,
            ssl_context=self.ssl_context,
        )
        try:
            await self.site.start()
        except BaseException:
            await self.runner.cleanup()
            raise

    async def stop_listening(self) -> None:
        """Close the listening socket only: accepted connections go on until they end."""
        if self.site is not None:
            await self.site.stop()

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
        self.http_listeners: dict[str, HttpListener] = {}  # by ListenerSpec.role
        # Listeners replaced by a reload whose connections are still open, with their reaper task.
        self._retired: dict[HttpListener, asyncio.Task[None]] = {}
        self._tick: asyncio.TimerHandle | None = None
        self.stopped = asyncio.Event()
        self._last_sample_ms = 0
        self.last_reload: ReloadResult | None = None
        self.rtc: RtcServer | None = None  # rtc_server: WebRTC media port(s)
        self.casters: list[Caster] = []  # stream_caster: mpegts_over_udp, flv
        self.srt: SrtServer | None = None  # srt_server: the SRT port (libsrt)
        self.rtsp: RtspServer | None = None  # rtsp_server: RTSP players

    # ------------------------------------------------------------------ start

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.ctx = ServerContext(self.config, loop, self.identity)
        ctx = self.ctx
        ctx.http_conns = HttpConnections(ctx)
        self.stats = Statistics(ctx)
        self.hooks = HttpHooks(ctx)
        ctx.llhls = LlStore()
        self.hls = HlsOutputs(self._on_hls_segment, live=ctx.llhls.apply)
        ctx.outputs.append(self.hls.on_publish)
        self.dash = DashOutputs()
        ctx.outputs.append(self.dash.on_publish)
        self.dvr = DvrOutputs(self._on_dvr)
        ctx.outputs.append(self.dvr.on_publish)
        ctx.policy = ControlPlane(Security(ctx), self.hooks, self.stats)
        ctx.hls_play = HlsPlay(ctx)
        self.heartbeat = Heartbeat(ctx, self.stats)
        self.heartbeat.start()
        for line in self.config.unsupported:
            log.warning("%s", line)
        for line in self.config.warnings:
            log.warning("%s", line)
        for ep in self.config.listen:
            await self._start_rtmp(ep)
        if self.config.rtc_server.enabled:
            self.rtc = RtcServer(ctx)
            await self.rtc.start()
            ctx.rtc = self.rtc
        if self.config.srt_server.enabled:
            self.srt = start_srt(ctx)
        if self.config.rtsp_server.enabled:
            self.rtsp = RtspServer(ctx)
            await self.rtsp.start()
        self.casters = await start_casters(ctx, self.config.stream_casters)
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

    # ------------------------------------------------------------------ HTTP listeners

    @property
    def http_server(self) -> HttpListener | None:
        return self.http_listeners.get("http_server")

    @property
    def http_api(self) -> HttpListener | None:
        return self.http_listeners.get("http_api")

    @property
    def https_server(self) -> HttpListener | None:
        return self.http_listeners.get("https_server")

    @property
    def https_api(self) -> HttpListener | None:
        return self.http_listeners.get("https_api")

    @property
    def exporter(self) -> HttpListener | None:
        return self.http_listeners.get("exporter")

    def _http_app(self, spec: ListenerSpec) -> web.Application:
        assert self.ctx is not None
        ctx, stats = self.ctx, self.stats
        deps = api.ApiDeps(ctx=ctx, stats=stats, reload=self.reload, last_reload=lambda: self.last_reload)

        def routes(app: web.Application) -> None:
            if spec.api == "versions":
                # SRS compat: /api/v1/versions is always answered on the HTTP server port (readiness probe).
                app.router.add_route("*", "/api/v1/versions", api.handler(deps, api.versions))
                return
            api.add_routes(app, deps, index=spec.api == "full")
            metrics.add_routes(app, ctx, stats)

        if spec.streams:
            ensure_dir(self.config.http_server.dir)
        return make_app(ctx, streams=spec.streams, routes=routes)

    @staticmethod
    def _tls_contexts(specs: Mapping[str, ListenerSpec]) -> dict[str, ssl.SSLContext]:
        """Every TLS context first, so a missing key/cert fails before any port is bound."""
        return {role: tls_context(s.tls, s.tls_where) for role, s in specs.items() if s.tls is not None}

    async def _start_listener(self, spec: ListenerSpec, context: ssl.SSLContext | None) -> None:
        assert self.ctx is not None
        lst = HttpListener(
            self._http_app(spec),
            spec.endpoint,
            ssl_context=context,
            spec=spec,
            conns=self.ctx.http_conns,
            recv_timeout_s=self.ctx.http_recv_timeout_s,
        )
        await lst.start()
        self.http_listeners[spec.role] = lst
        log.info(
            "%s listen at %s://%s:%d",
            spec.role,
            "https" if context else "http",
            _host(spec.endpoint),
            lst.port,
        )

    async def _start_http(self) -> None:
        assert self.ctx is not None
        c = self.config
        specs = http_listener_specs(c)
        if (
            c.http_api.https.enabled
            and c.http_api.enabled
            and "http_api" not in specs
            and "https_server" not in specs
        ):
            # SRS compat: a shared API serves HTTPS on the HTTP server's HTTPS port, which is off.
            log.warning("http_api.https is on but shares http_server.https, which is off: no HTTPS API")
        contexts = self._tls_contexts(specs)
        for role, spec in specs.items():
            await self._start_listener(spec, contexts.get(role))

    def _check_http(self, cfg: Config) -> None:
        """Refuse a config whose HTTPS key/cert cannot be loaded (reload keeps the running one)."""
        try:
            self._tls_contexts(http_listener_specs(cfg))
        except OSError as e:
            raise ConfigError(str(e)) from None

    async def _stop_http(self) -> None:
        for task in self._retired.values():
            task.cancel()
        for lst in [*self.http_listeners.values(), *self._retired]:
            await lst.stop()
        self.http_listeners.clear()
        self._retired.clear()

    def rtmp_ports(self) -> dict[Endpoint, int]:
        out = {}
        for ep, server in self.rtmp.items():
            socks = server.sockets
            out[ep] = int(socks[0].getsockname()[1]) if socks else ep.port
        return out

    def _on_hls_segment(self, cid: str, req: Request, seg: SegmentClosed) -> None:
        """A segment is on disk: SRS's on_hls (POST) and on_hls_notify (GET) hooks."""
        file = os.path.relpath(seg.file) if not os.path.isabs(seg.file) else seg.file
        self.hooks.on_hls(
            cid, req, file=file, ts_url=seg.url, m3u8=seg.m3u8, m3u8_url=seg.m3u8_url,
            seq_no=seg.seq_no, duration_s=seg.duration_s,
        )  # fmt: skip
        self.hooks.on_hls_notify(cid, req, seg.url)

    def _on_dvr(self, cid: str, req: Request, path: str) -> None:
        """A DVR file is closed and renamed: SRS's on_dvr hook (``file`` as configured)."""
        self.hooks.on_dvr(cid, req, path)

    def _schedule_tick(self) -> None:
        assert self.ctx is not None
        self._tick = self.ctx.loop.call_later(TICK_S, self._on_tick)

    def _on_tick(self) -> None:
        assert self.ctx is not None
        now = now_ms()
        self.ctx.registry.tick(now)
        self.ctx.sweep()
        if self.ctx.hls_play is not None:
            self.ctx.hls_play.sweep()
        srslog.flush_summaries(now / 1000)
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
            self._check_http(cfg)
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
        # Always: the HTTP listeners diff themselves (and TLS listeners reload their certificate).
        changes.extend(await self._reload_http(old, cfg))
        if old.rtc_server != cfg.rtc_server:
            # SRS does not reload rtc_server either: the media port and certificate stay as started.
            log.warning("reload: rtc_server changed; it applies after a restart")
        if old.rtsp_server != cfg.rtsp_server:
            log.warning("reload: rtsp_server changed; it applies after a restart")
        if d.mw_cpu_budget_changed:
            self.ctx.pacer.duty = cfg.mw_cpu_budget / 100
            changes.append(f"mw_cpu_budget {cfg.mw_cpu_budget}")
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
            if v is not None and v.enabled and "dvr" in sections:
                self.dvr.reload(v, self.ctx.registry.sources_of(name))
            if v is not None and v.enabled and "hls" in sections:
                self.hls.reload(v, self.ctx.registry.sources_of(name))
            if v is not None and v.enabled and "dash" in sections:
                self.dash.reload(v, self.ctx.registry.sources_of(name))
            changes.append(f"vhost ~{name}({','.join(sorted(sections))})")
        for line in cfg.unsupported:
            if line not in old.unsupported:
                log.warning("%s", line)
        log.info("reload ok: %s", "; ".join(changes) or "nothing changed")
        self.last_reload = ReloadResult(True, "ok", changes)
        return self.last_reload

    async def _reload_http(self, old: Config, new: Config) -> list[str]:
        """Restart the HTTP listeners whose spec changed (endpoint, role, TLS files), start new ones,
        stop removed ones; connections accepted before keep going until they end. TLS listeners
        that stay load their cert/key again, so a renewed certificate applies on reload."""
        assert self.ctx is not None
        want = http_listener_specs(new)
        changes: list[str] = []
        for role, lst in list(self.http_listeners.items()):
            spec = want.get(role)
            if spec is not None and spec == lst.spec:
                if spec.tls is not None and lst.ssl_context is not None:
                    try:
                        load_tls(lst.ssl_context, spec.tls, spec.tls_where)
                    except OSError as e:
                        log.error("%s: keep the previous certificate: %s", role, e)
                continue
            await lst.stop_listening()
            del self.http_listeners[role]
            changes.append(f"{role} -{lst.endpoint}")
            self._retired[lst] = self.ctx.loop.create_task(self._retire(lst))
        added = {role: spec for role, spec in want.items() if role not in self.http_listeners}
        contexts = self._tls_contexts(added)  # reload() checked them: they load
        for role, spec in added.items():
            try:
                await self._start_listener(spec, contexts.get(role))
            except OSError as e:
                # SRS quits when a reload cannot listen; we keep serving everything else.
                log.error("reload: %s cannot listen at %s: %s", role, spec.endpoint, e)
                changes.append(f"{role} failed({spec.endpoint})")
                continue
            changes.append(f"{role} +{spec.endpoint}")
        return changes

    async def _retire(self, lst: HttpListener) -> None:
        """Keep a replaced listener's runner alive until its connections end, then clean up."""
        server = lst.runner.server
        while server is not None and server.connections:
            await asyncio.sleep(1)
        self._retired.pop(lst, None)
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
        if self.rtc is not None:
            await self.rtc.stop()
        if self.srt is not None:
            await self.srt.stop()
        if self.rtsp is not None:
            await self.rtsp.stop()
        for caster in self.casters:
            await caster.stop()
        await self._stop_http()
        ctx.pacer.close()
        self.hls.close()
        self.dash.close()
        if ctx.hls_play is not None:
            ctx.hls_play.close()
        self.dvr.close()
        await self.heartbeat.stop()
        await self.hooks.close()
        for server in self.rtmp.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self.rtmp.clear()
        srslog.flush_summaries(float("inf"))  # what floods left out, before the last line
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
