"""System endpoints: summaries, rusages, proc stats, meminfos, authors, features, tests/*.

Shapes are SRS's (``srs_app_http_api.cpp``, reference 3.2); the numbers come from psutil,
``resource.getrusage`` and ``/proc`` (Linux). Where ``/proc`` is missing the endpoint still answers
with ``ok: false`` and zeros, as SRS does when its sampling fails.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from aiohttp import web

from srs import AUTHORS, KEY, LICENSE, URL, VERSION
from srs.control.api_base import ApiDeps, Body, api_method, envelope, query
from srs.util.errors import ErrorCode

if TYPE_CHECKING:
    from srs.control.stats import Statistics
    from srs.server.context import ServerContext

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# /proc/self/stat fields after "pid (comm) state" (proc(5)), as SRS's SrsProcSelfStat names them.
_SELF_STAT_FIELDS = [
    "ppid",
    "pgrp",
    "session",
    "tty_nr",
    "tpgid",
    "flags",
    "minflt",
    "cminflt",
    "majflt",
    "cmajflt",
    "utime",
    "stime",
    "cutime",
    "cstime",
    "priority",
    "nice",
    "num_threads",
    "itrealvalue",
    "starttime",
    "vsize",
    "rss",
    "rsslim",
    "startcode",
    "endcode",
    "startstack",
    "kstkesp",
    "kstkeip",
    "signal",
    "blocked",
    "sigignore",
    "sigcatch",
    "wchan",
    "nswap",
    "cnswap",
    "exit_signal",
    "processor",
    "rt_priority",
    "policy",
    "delayacct_blkio_ticks",
    "guest_time",
    "cguest_time",
]
_CPU_FIELDS = ("user", "nice", "sys", "idle", "iowait", "irq", "softirq", "steal", "guest")
_MEM_FIELDS = ("MemTotal", "MemFree", "Buffers", "Cached", "SwapTotal", "SwapFree")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


# ---------------------------------------------------------------- summaries


def summaries_data(ctx: ServerContext, stats: Statistics | None) -> Body:
    """The ``data`` of ``/api/v1/summaries`` (also the heartbeat's ``summaries``)."""
    now = time.time()
    # The process handle lives with the statistics: cpu_percent() measures since its last call.
    proc = stats.proc if stats is not None else psutil.Process()
    with proc.oneshot():
        mem = proc.memory_info()
        mem_percent = proc.memory_percent()
        cpu = proc.cpu_percent(None)
        ppid = proc.ppid()
    vm = psutil.virtual_memory()
    sw = psutil.swap_memory()
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    net = psutil.net_io_counters()
    boot = psutil.boot_time()
    totals = stats.totals() if stats is not None else None
    return {
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
            "disk_busy_percent": 0.0,
            "mem_ram_kbyte": vm.total // 1024,
            "mem_ram_percent": round(vm.percent / 100, 4),
            "mem_swap_kbyte": sw.total // 1024,
            "mem_swap_percent": round(sw.percent / 100, 4),
            "cpus": psutil.cpu_count() or 1,
            "cpus_online": psutil.cpu_count() or 1,
            "uptime": round(now - boot, 2),
            "ilde_time": 0.0,  # SRS compat: the misspelling is SRS's
            "load_1m": load[0],
            "load_5m": load[1],
            "load_15m": load[2],
            "net_sample_time": int(now * 1000),
            "net_recv_bytes": net.bytes_recv if net else 0,
            "net_send_bytes": net.bytes_sent if net else 0,
            "net_recvi_bytes": 0,
            "net_sendi_bytes": 0,
            "srs_sample_time": int(now * 1000),
            "srs_recv_bytes": totals.recv_bytes if totals else 0,
            "srs_send_bytes": totals.send_bytes if totals else 0,
            "conn_sys": 0,
            "conn_sys_et": 0,
            "conn_sys_tw": 0,
            "conn_sys_udp": 0,
            "conn_srs": len(ctx.connections),
        },
    }


def summaries(deps: ApiDeps, request: web.Request | None) -> Body:
    """``/api/v1/summaries`` (the request is not read: the heartbeat calls this with ``None``)."""
    return envelope(deps.ctx, data=summaries_data(deps.ctx, getattr(deps, "stats", None)))


# ---------------------------------------------------------------- process and system


def rusages(deps: ApiDeps, request: web.Request) -> Body:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    data: Body = {
        "ok": True,
        "sample_time": _now_ms(),
        "ru_utime": int(ru.ru_utime),  # SRS: tv_sec only
        "ru_stime": int(ru.ru_stime),
    }
    for name in [
        "ru_maxrss",
        "ru_ixrss",
        "ru_idrss",
        "ru_isrss",
        "ru_minflt",
        "ru_majflt",
        "ru_nswap",
        "ru_inblock",
        "ru_oublock",
        "ru_msgsnd",
        "ru_msgrcv",
        "ru_nsignals",
        "ru_nvcsw",
        "ru_nivcsw",
    ]:
        data[name] = int(getattr(ru, name))
    return envelope(deps.ctx, data=data)


def _parse_self_stat(text: str | None) -> tuple[Body, int] | None:
    """(fields, utime+stime) of a ``/proc/<pid>/stat`` line; ``comm`` may contain spaces/parens."""
    if not text:
        return None
    open_at, close_at = text.find("("), text.rfind(")")
    if open_at < 0 or close_at < open_at:
        return None
    head = text[:open_at].split()
    rest = text[close_at + 1 :].split()
    if not head or not rest:
        return None
    out: Body = {"pid": int(head[0]) if head[0].isdigit() else 0, "comm": text[open_at : close_at + 1]}
    out["state"] = rest[0][:1]
    for name, value in zip(_SELF_STAT_FIELDS, rest[1:], strict=False):
        try:
            out[name] = int(value)
        except ValueError:
            out[name] = 0
    for name in _SELF_STAT_FIELDS:
        out.setdefault(name, 0)
    return out, int(out["utime"]) + int(out["stime"])


def self_proc_stats(deps: ApiDeps, request: web.Request) -> Body:
    now = time.monotonic()
    parsed = _parse_self_stat(_read("/proc/self/stat"))
    data: Body = {"ok": parsed is not None, "sample_time": _now_ms(), "percent": 0.0}
    if parsed is None:
        data.update({"pid": os.getpid(), "comm": "", "state": ""})
        data.update(dict.fromkeys(_SELF_STAT_FIELDS, 0))
        return envelope(deps.ctx, data=data)
    fields, ticks = parsed
    prev = deps.cpu
    # Fraction of one CPU since the previous call (SRS samples periodically; we sample on demand).
    if prev.self_ticks is not None and prev.self_at is not None and now > prev.self_at:
        data["percent"] = round(max(0.0, (ticks - prev.self_ticks) / _CLK_TCK / (now - prev.self_at)), 4)
    prev.self_ticks, prev.self_at = ticks, now
    data.update(fields)
    return envelope(deps.ctx, data=data)


def system_proc_stats(deps: ApiDeps, request: web.Request) -> Body:
    text = _read("/proc/stat") or ""
    line = next((ln for ln in text.splitlines() if ln.startswith("cpu ")), "")
    values = [int(v) if v.isdigit() else 0 for v in line.split()[1:]]
    ok = bool(values)
    values += [0] * max(0, len(_CPU_FIELDS) - len(values))
    cpu = dict(zip(_CPU_FIELDS, values, strict=False))
    data: Body = {"ok": ok, "sample_time": _now_ms(), "percent": 0.0}
    if ok:
        # Busy share of all CPU time since the previous call (SRS SrsProcSystemStat::percent).
        total = sum(values[:8])
        idle = cpu["idle"] + cpu["iowait"]
        prev = deps.cpu
        if prev.sys_total is not None and prev.sys_idle is not None and total > prev.sys_total:
            data["percent"] = round(max(0.0, 1.0 - (idle - prev.sys_idle) / (total - prev.sys_total)), 4)
        prev.sys_total, prev.sys_idle = total, idle
    data.update(cpu)
    return envelope(deps.ctx, data=data)


def meminfos(deps: ApiDeps, request: web.Request) -> Body:
    text = _read("/proc/meminfo") or ""
    info: dict[str, int] = {}
    for ln in text.splitlines():
        name, _, rest = ln.partition(":")
        if name in _MEM_FIELDS:
            v = rest.split()
            info[name] = int(v[0]) if v and v[0].isdigit() else 0
    ok = "MemTotal" in info
    m = {k: info.get(k, 0) for k in _MEM_FIELDS}
    # SRS srs_update_meminfo: what is really in use excludes buffers and page cache.
    active = m["MemTotal"] - m["MemFree"]
    real = active - m["Buffers"] - m["Cached"]
    not_in_use = m["MemTotal"] - real
    data: Body = {
        "ok": ok,
        "sample_time": _now_ms(),
        "percent_ram": round(real / m["MemTotal"], 4) if m["MemTotal"] else 0.0,
        "percent_swap": round((m["SwapTotal"] - m["SwapFree"]) / m["SwapTotal"], 4)
        if m["SwapTotal"]
        else 0.0,
        "MemActive": active,
        "RealInUse": real,
        "NotInUse": not_in_use,
        **m,
    }
    return envelope(deps.ctx, data=data)


# ---------------------------------------------------------------- about


def authors(deps: ApiDeps, request: web.Request) -> Body:
    return envelope(deps.ctx, data={"license": LICENSE, "contributors": AUTHORS})


def _build_time() -> tuple[str, str]:
    """SRS's ``build``/``build2`` (build date, timestamp): when this package was installed."""
    try:
        ts = int(Path(__file__).stat().st_mtime)
    except OSError:
        ts = 0
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S"), str(ts)


def features(deps: ApiDeps, request: web.Request) -> Body:
    build, build2 = _build_time()
    # What this server really has (SRS reports its build flags; tools use these to enable UI).
    feats: dict[str, Any] = {
        "ssl": True,
        "hls": False,
        "hds": False,
        "callback": True,
        "api": True,
        "httpd": True,
        "dvr": False,
        "transcode": False,
        "ingest": False,
        "stat": True,
        "caster": False,
        "complex_send": True,
        "tcp_nodelay": True,
        "so_sendbuf": False,
        "mr": False,
    }
    data = {
        "options": f"python={sys.version.split()[0]}",
        # SRS reports RTC in its configure flags (SRS_CONFIGURE has --rtc=on|off), not in features.
        "options2": "--rtc=on" if deps.ctx.rtc is not None else "--rtc=off",
        "build": build,
        "build2": build2,
        "features": feats,
    }
    return envelope(deps.ctx, data=data)


# ---------------------------------------------------------------- tests/*


def tests_requests(deps: ApiDeps, request: web.Request) -> Body:
    """Echo the request. SRS compat: ``headers`` holds server info, SRS overwrites the request
    headers with it (``data->set("headers", server)``), so the request headers never show."""
    host = query(request, "vhost") or query(request, "domain") or request.host.rsplit(":", 1)[0]
    path = request.path
    return envelope(
        deps.ctx,
        data={
            "uri": f"{request.scheme}://{host}{path}",
            "path": path,
            "METHOD": api_method(request),
            "headers": {"sigature": KEY, "version": VERSION, "link": URL, "time": _now_ms()},
        },
    )


def tests_errors(deps: ApiDeps, request: web.Request) -> Body:
    return {"code": int(ErrorCode.TESTS)}


def tests_redirects(deps: ApiDeps, request: web.Request) -> web.StreamResponse:
    return web.Response(
        status=301, headers={"Location": "/api/v1/tests/errors", "Connection": "Close"}, text=""
    )
