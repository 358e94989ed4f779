"""Statistics endpoints: vhosts, streams, clients (+ kick), raw (reload), clusters.

JSON objects are SRS's ``dumps()`` of ``SrsStatisticVhost/Stream/Client`` field for field, in SRS's
order (reference 3.3). Streams and clients reference their vhost/stream by statistics id, not name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from srs.config import DEFAULT_VHOST
from srs.control.api_base import (
    ApiDeps,
    ApiError,
    Body,
    api_method,
    envelope,
    method_not_allowed,
    query,
    query_int,
)
from srs.util.errors import ErrorCode

if TYPE_CHECKING:
    from srs.config import Config
    from srs.config.values import Endpoint
    from srs.control.stats import ClientStat, StreamStat, VhostStat

log = logging.getLogger("srs")

DEFAULT_COUNT = 10  # SRS compat: count = max(10, atoi(count)) in 7.0.18 (the minimum is 10 too)

# SRS SrsReloadState
RELOAD_INIT = 0
RELOAD_PARSING = 10
RELOAD_APPLYING = 30
RELOAD_FINISHED = 90


# ---------------------------------------------------------------- object shapes


def vhost_json(config: Config, v: VhostStat) -> Body:
    vc = config.vhost(v.name)
    hls_on = bool(vc is not None and vc.enabled and vc.hls.enabled)
    hls: Body = {"enabled": hls_on}
    if hls_on and vc is not None:
        hls["fragment"] = float(vc.hls.fragment_s)
    return {
        "id": v.id,
        "name": v.name,
        "enabled": bool(vc is not None and vc.enabled),
        "clients": v.clients,
        "streams": v.streams,
        "send_bytes": v.send_bytes,
        "recv_bytes": v.recv_bytes,
        "kbps": {"recv_30s": v.kbps_recv_30s, "send_30s": v.kbps_send_30s},
        "hls": hls,
    }


def stream_json(st: StreamStat, now_ms: int) -> Body:
    publish: Body = {"active": st.active}
    if st.publisher_cid:
        publish["cid"] = st.publisher_cid
    return {
        "id": st.id,
        "name": st.name,
        "vhost": st.vhost.id,
        "app": st.app,
        "tcUrl": st.tc_url,
        "url": st.url,
        "live_ms": now_ms,  # SRS compat: "now", not the stream's uptime
        "clients": st.clients,
        "frames": st.frames,
        "send_bytes": st.send_bytes,
        "recv_bytes": st.recv_bytes,
        "kbps": {"recv_30s": st.kbps_recv_30s, "send_30s": st.kbps_send_30s},
        "publish": publish,
        "video": st.video_info(),
        "audio": st.audio_info(),
    }


def client_json(cs: ClientStat) -> Body:
    c = cs.client
    req = c.request
    return {
        "id": cs.id,
        "vhost": cs.stream.vhost.id,
        "stream": cs.stream.id,
        "ip": c.ip,
        "pageUrl": req.page_url,
        "swfUrl": req.swf_url,
        "tcUrl": req.tc_url,
        "url": req.stream_url,
        "name": req.stream,
        "type": c.kind,
        "publish": c.is_publish,
        "alive": round(cs.alive, 3),
        "send_bytes": cs.send_bytes,
        "recv_bytes": cs.recv_bytes,
        "kbps": {"recv_30s": cs.kbps_recv_30s, "send_30s": cs.kbps_send_30s},
    }


def _page(request: web.Request) -> tuple[int, int]:
    """SRS: ``start = max(0, atoi(start))``, ``count = max(10, atoi(count))``."""
    start = max(0, query_int(query(request, "start")))
    count = max(DEFAULT_COUNT, query_int(query(request, "count")))
    return start, count


# ---------------------------------------------------------------- endpoints


def vhosts(deps: ApiDeps, request: web.Request) -> Body | web.StreamResponse:
    vid = request.match_info.get("id", "")
    v = None
    if vid and (v := deps.stats.vhost(vid)) is None:
        raise ApiError(ErrorCode.RTMP_VHOST_NOT_FOUND)
    if api_method(request) != "GET":
        return method_not_allowed()
    config = deps.ctx.config
    if v is None:
        return envelope(deps.ctx, vhosts=[vhost_json(config, x) for x in deps.stats.vhosts()])
    return envelope(deps.ctx, vhost=vhost_json(config, v))


def streams(deps: ApiDeps, request: web.Request) -> Body | web.StreamResponse:
    sid = request.match_info.get("id", "")
    st = None
    if sid and (st := deps.stats.stream(sid)) is None:
        raise ApiError(ErrorCode.RTMP_STREAM_NOT_FOUND)
    if api_method(request) != "GET":
        return method_not_allowed()
    now_ms = int(time.time() * 1000)
    if st is None:
        start, count = _page(request)
        return envelope(
            deps.ctx, streams=[stream_json(x, now_ms) for x in deps.stats.streams_page(start, count)]
        )
    return envelope(deps.ctx, stream=stream_json(st, now_ms))


def clients(deps: ApiDeps, request: web.Request) -> Body | web.StreamResponse:
    cid = request.match_info.get("id", "")
    cs = None
    if cid and (cs := deps.stats.client(cid)) is None:
        raise ApiError(ErrorCode.RTMP_CLIENT_NOT_FOUND)
    method = api_method(request)
    if method == "GET":
        if cs is None:
            start, count = _page(request)
            return envelope(deps.ctx, clients=[client_json(x) for x in deps.stats.clients_page(start, count)])
        return envelope(deps.ctx, client=client_json(cs))
    if method == "DELETE":
        if cs is None:
            raise ApiError(ErrorCode.RTMP_CLIENT_NOT_FOUND)
        conn = deps.ctx.connections.get(cs.id)
        hls = deps.ctx.hls_play
        if conn is None and hls is not None and (session := hls.sessions.get(cs.id)) is cs.client.conn:
            conn = session  # an HLS session (server/hls_play.py): it ends itself (SRS expire())
        if conn is None:
            # SRS: a session without a connection to expire cannot be kicked.
            log.error("kickoff client id=%s error: no connection", cs.id)
            raise ApiError(400)
        log.warning("kickoff client id=%s ok", cs.id)
        conn.close("kicked by api")
        return envelope(deps.ctx)
    return method_not_allowed()


def _listen_str(ep: Endpoint) -> str:
    if not ep.host:
        return str(ep.port)
    return f"[{ep.host}]:{ep.port}" if ":" in ep.host else f"{ep.host}:{ep.port}"


def _reload_fetch(deps: ApiDeps) -> Body:
    last = deps.last_reload()
    if deps.reloading:
        err, msg, state, rid = 0, "Success", RELOAD_APPLYING, last.rid if last else ""
    elif last is None:
        err, msg, state, rid = 0, "Success", RELOAD_INIT, ""
    elif last.ok:
        err, msg, state, rid = 0, "Success", RELOAD_FINISHED, last.rid
    else:
        err, msg, state, rid = int(ErrorCode.SYSTEM_CONFIG_INVALID), last.message, RELOAD_PARSING, last.rid
    return {"code": 0, "data": {"err": err, "msg": msg, "state": state, "rid": rid}}


async def _run_reload(deps: ApiDeps) -> None:
    deps.reloading = True
    try:
        outcome = await deps.reload()
        log.info("raw api reload: %s", "ok" if outcome.ok else outcome.message)
    except Exception as e:  # a reload failure must not leave "applying" forever
        log.error("raw api reload failed: %s", e)
    finally:
        deps.reloading = False


def raw(deps: ApiDeps, request: web.Request) -> Body:
    """``/api/v1/raw?rpc=raw|reload|reload-fetch``, ruled by the *current* ``http_api.raw_api``."""
    rpc = query(request, "rpc")
    api = deps.ctx.config.http_api
    if rpc == "raw":
        ra = api.raw_api
        return {
            "code": 0,
            "http_api": {
                "enabled": api.enabled,
                "listen": _listen_str(api.listen),
                "crossdomain": api.crossdomain,
                "raw_api": {
                    "enabled": ra.enabled,
                    "allow_reload": ra.allow_reload,
                    "allow_query": ra.allow_query,
                    "allow_update": ra.allow_update,
                },
            },
        }
    if not api.raw_api.enabled:
        raise ApiError(ErrorCode.SYSTEM_CONFIG_RAW_DISABLED)
    if rpc not in ("reload", "reload-fetch"):
        raise ApiError(ErrorCode.SYSTEM_CONFIG_RAW)
    if rpc == "reload-fetch":
        return _reload_fetch(deps)
    if not api.raw_api.allow_reload:
        raise ApiError(ErrorCode.SYSTEM_CONFIG_RAW_DISABLED)
    # SRS signals itself and answers at once; reload-fetch tells how it went.
    task = asyncio.get_running_loop().create_task(_run_reload(deps))
    deps.tasks.add(task)
    task.add_done_callback(deps.tasks.discard)
    return {"code": 0}


def clusters(deps: ApiDeps, request: web.Request) -> Body:
    """Origin-cluster discovery (SRS ``SrsCoWorkers::dumps``): where is ``vhost/app/stream``
    published? ``origin`` is this server when the stream is published here, else ``null``."""
    ip, vhost, app, stream = (query(request, k) for k in ("ip", "vhost", "app", "stream"))
    coworker = query(request, "coworker")
    data: Body = {
        "query": {"ip": ip, "vhost": vhost, "app": app, "stream": stream},
        "origin": _origin(deps, vhost, app, stream, coworker or _local_host(request)),
    }
    return {"code": 0, "data": data}


def _local_host(request: web.Request) -> str:
    """The address the API client reached us on (SRS falls back to its public IP)."""
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    return str(sock[0]) if sock else ""


def _split_hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host:
        return text, 0
    return host.strip("[]"), query_int(port)


def _origin(deps: ApiDeps, vhost: str, app: str, stream: str, coworker: str) -> Any:
    config = deps.ctx.config
    vc = config.vhost(vhost) if vhost else None
    if vc is None:
        vc = config.vhost(DEFAULT_VHOST)  # SRS: get_vhost(vhost, true) falls back to the default
    if vc is None:
        return None
    url = f"/{app}/{stream}" if vc.name == DEFAULT_VHOST else f"{vc.name}/{app}/{stream}"
    st = deps.stats.stream_by_url(url)
    if st is None or not st.active:
        return None
    # The RTMP port from the first listen endpoint; the IP: the listen host unless it is a
    # wildcard/loopback, else the host the coworker used to reach us (SRS #1501), else the address
    # this API request came in on.
    ep = config.listen[0] if config.listen else None
    listen_host, listen_port = (ep.host, ep.port) if ep is not None else ("", 1935)
    service_ip = listen_host if listen_host not in ("", "0.0.0.0", "127.0.0.1", "::", "::1") else ""
    if not service_ip:
        split = coworker.startswith("[") or coworker.count(":") == 1
        service_ip = _split_hostport(coworker)[0] if split else coworker
    backend = _listen_str(config.http_api.listen)
    if ":" not in backend:
        backend = f"{service_ip}:{backend}"
    return {"ip": service_ip, "port": listen_port, "vhost": vc.name, "api": backend, "routers": [backend]}
