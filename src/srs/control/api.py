"""The HTTP API (``http_api``), SRS's JSON shapes (reference section 3).

This issue serves what tools need to see the server is up: ``/api/v1/versions`` and
``/api/v1/summaries`` (plus the ``/``, ``/api/`` and ``/api/v1/`` indexes). The full API
(streams, clients, kick, raw, ...) plugs in here.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import psutil
from aiohttp import web

from srs import VERSION, VERSION_MAJOR, VERSION_MINOR, VERSION_REVISION

if TYPE_CHECKING:
    from srs.control.stats import Statistics
    from srs.server.context import ServerContext

Body = dict[str, Any]


class ReloadOutcome(Protocol):
    ok: bool
    message: str
    rid: str


@dataclass
class ApiDeps:
    """What the API needs, wired by the app (the API may not import the app: layers)."""

    ctx: ServerContext
    stats: Statistics
    reload: Callable[[], Awaitable[ReloadOutcome]]
    last_reload: Callable[[], ReloadOutcome | None]


Endpoint = Callable[[ApiDeps, web.Request], Body]

_proc = psutil.Process()


def envelope(ctx: ServerContext, **fields: Any) -> Body:
    ident = ctx.identity
    out: Body = {"code": 0, "server": ident.server_id, "service": ident.service_id, "pid": str(ident.pid)}
    out.update(fields)
    return out


def json_response(body: Body) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        content_type="application/json",
        headers={"Connection": "Close"},
    )


def handler(deps: ApiDeps, fn: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def h(request: web.Request) -> web.Response:
        return json_response(fn(deps, request))

    return h


def versions(deps: ApiDeps, request: web.Request) -> Body:
    ctx = deps.ctx
    return envelope(
        ctx,
        data={
            "major": VERSION_MAJOR,
            "minor": VERSION_MINOR,
            "revision": VERSION_REVISION,
            "version": VERSION,
        },
    )


def summaries(deps: ApiDeps, request: web.Request) -> Body:
    ctx = deps.ctx
    now = time.time()
    with _proc.oneshot():
        mem = _proc.memory_info()
        mem_percent = _proc.memory_percent()
        cpu = _proc.cpu_percent(None)
        ppid = _proc.ppid()
    vm = psutil.virtual_memory()
    sw = psutil.swap_memory()
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    net = psutil.net_io_counters()
    boot = psutil.boot_time()
    data = {
        "ok": True,
        "now_ms": int(now * 1000),
        "self": {
            "version": VERSION,
            "pid": ctx.identity.pid,
            "ppid": ppid,
            "argv": " ".join(sys.argv),
            "cwd": os.getcwd(),
            "mem_kbyte": mem.rss // 1024,
            "mem_percent": round(mem_percent / 100, 4),
            "cpu_percent": round(cpu / 100, 4),
            "srs_uptime": int(now - ctx.started_at),
        },
        "system": {
            "cpu_percent": round(psutil.cpu_percent(None) / 100, 4),
            "disk_read_KBps": 0,
            "disk_write_KBps": 0,
            "disk_busy_percent": 0,
            "mem_ram_kbyte": vm.total // 1024,
            "mem_ram_percent": round(vm.percent / 100, 4),
            "mem_swap_kbyte": sw.total // 1024,
            "mem_swap_percent": round(sw.percent / 100, 4),
            "cpus": psutil.cpu_count() or 1,
            "cpus_online": psutil.cpu_count() or 1,
            "uptime": int(now - boot),
            "ilde_time": 0,  # SRS compat: the misspelling is SRS's
            "load_1m": load[0],
            "load_5m": load[1],
            "load_15m": load[2],
            "net_sample_time": int(now * 1000),
            "net_recv_bytes": net.bytes_recv if net else 0,
            "net_send_bytes": net.bytes_sent if net else 0,
            "net_recvi_bytes": 0,
            "net_sendi_bytes": 0,
            "srs_sample_time": int(now * 1000),
            "srs_recv_bytes": 0,
            "srs_send_bytes": 0,
            "conn_sys": 0,
            "conn_sys_et": 0,
            "conn_sys_tw": 0,
            "conn_sys_udp": 0,
            "conn_srs": len(ctx.connections),
        },
    }
    return envelope(ctx, data=data)


def root(deps: ApiDeps, request: web.Request) -> Body:
    ctx = deps.ctx
    return envelope(
        ctx,
        urls={
            "api": "the api root",
            "rtc": {"v1": {"play": "Play stream", "publish": "Publish stream", "nack": "Simulate the NACK"}},
        },
    )


def api_root(deps: ApiDeps, request: web.Request) -> Body:
    ctx = deps.ctx
    return envelope(ctx, urls={"v1": "the api version 1.0"})


def api_v1(deps: ApiDeps, request: web.Request) -> Body:
    ctx = deps.ctx
    return envelope(
        ctx,
        urls={
            "versions": "the version of SRS",
            "summaries": "the summary(pid, argv, pwd, cpu, mem) of SRS",
        },
    )


def add_routes(app: web.Application, deps: ApiDeps, *, index: bool = True) -> None:
    r = app.router
    r.add_route("*", "/api/v1/versions", handler(deps, versions))
    r.add_route("*", "/api/v1/summaries", handler(deps, summaries))
    r.add_route("*", "/api/v1/", handler(deps, api_v1))
    r.add_route("*", "/api/", handler(deps, api_root))
    if index:
        r.add_route("*", "/", handler(deps, root))
