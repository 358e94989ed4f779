"""The HTTP API (``http_api``): every endpoint of SRS 7.0 (reference section 3), SRS's JSON shapes.

Routing follows SRS's mux (``SrsServer::http_handle``): exact paths, ``/api/v1/vhosts/``,
``/api/v1/streams/`` and ``/api/v1/clients/`` with an optional id, unknown ``/api/v1/*`` answered by
the ``/api/v1/`` index, unknown ``/api/*`` by ``/api/``, and, on the API's own port, anything else by
the ``/`` index. ``/console/`` serves ``http_server.dir/console``.

Split by concern: :mod:`api_base` (envelope, JSON/JSONP, errors), :mod:`api_system` (process and
system), :mod:`api_stats` (vhosts, streams, clients, raw, clusters), :mod:`api_codec` (stream codec
info). HTTP Basic auth (``http_api.auth``) is the HTTP middleware's (``srs.server.http``).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from srs import VERSION, VERSION_MAJOR, VERSION_MINOR, VERSION_REVISION
from srs.control import api_stats, api_system
from srs.control.api_base import (
    ApiDeps,
    ApiError,
    Body,
    Endpoint,
    ReloadOutcome,
    envelope,
    handler,
    json_response,
)
from srs.control.api_system import summaries, summaries_data
from srs.server import gb28181 as gb_api
from srs.server.http import CTX
from srs.server.rtc import signal as rtc_signal

__all__ = [
    "ApiDeps",
    "ApiError",
    "Body",
    "Endpoint",
    "ReloadOutcome",
    "add_routes",
    "envelope",
    "handler",
    "json_response",
    "summaries",
    "summaries_data",
    "versions",
]


def versions(deps: ApiDeps, request: web.Request) -> Body:
    return envelope(
        deps.ctx,
        data={
            "major": VERSION_MAJOR,
            "minor": VERSION_MINOR,
            "revision": VERSION_REVISION,
            "version": VERSION,
        },
    )


def root(deps: ApiDeps, request: web.Request) -> Body:
    return envelope(
        deps.ctx,
        urls={
            "api": "the api root",
            "rtc": {"v1": {"play": "Play stream", "publish": "Publish stream", "nack": "Simulate the NACK"}},
        },
    )


def api_root(deps: ApiDeps, request: web.Request) -> Body:
    return envelope(deps.ctx, urls={"v1": "the api version 1.0"})


# SRS's descriptions, verbatim (SrsGoApiV1).
V1_URLS = {
    "versions": "the version of SRS",
    "summaries": "the summary(pid, argv, pwd, cpu, mem) of SRS",
    "rusages": "the rusage of SRS",
    "self_proc_stats": "the self process stats",
    "system_proc_stats": "the system process stats",
    "meminfos": "the meminfo of system",
    "authors": "the license, copyright, authors and contributors",
    "features": "the supported features of SRS",
    "requests": "the request itself, for http debug",
    "vhosts": "manage all vhosts or specified vhost",
    "streams": "manage all streams or specified stream",
    "clients": "manage all clients or specified client, default query top 10 clients",
    "raw": "raw api for srs, support CUID srs for instance the config",
    "clusters": "origin cluster server API",
    "perf": "System performance stat",
    "tcmalloc": "tcmalloc api with params ?page=summary|api",
}
V1_TESTS = {
    "requests": "show the request info",
    "errors": "always return an error 100",
    "redirects": "always redirect to /api/v1/test/errors",
    "[vhost]": "http vhost for http://error.srs.com:1985/api/v1/tests/errors",
}


def api_v1(deps: ApiDeps, request: web.Request) -> Body:
    return envelope(deps.ctx, urls=dict(V1_URLS), tests=dict(V1_TESTS))


async def _console(request: web.Request) -> web.StreamResponse:
    """SRS mounts ``http_server.dir/console`` at ``/console/`` on the API mux."""
    ctx = request.app[CTX]
    tail = request.match_info.get("tail", "")
    if ".." in request.raw_path or "\x00" in tail:
        raise web.HTTPBadRequest(text="invalid path")
    base = (Path(ctx.config.http_server.dir) / "console").resolve()
    target = (base / tail.lstrip("/")).resolve()
    try:
        target.relative_to(base)
    except ValueError:
        raise web.HTTPNotFound() from None
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(target)


# (path, endpoint) for every method; ids are optional (``/api/v1/streams/`` lists).
_ROUTES: tuple[tuple[str, Endpoint], ...] = (
    ("/api/v1/versions", versions),
    ("/api/v1/summaries", summaries),
    ("/api/v1/rusages", api_system.rusages),
    ("/api/v1/self_proc_stats", api_system.self_proc_stats),
    ("/api/v1/system_proc_stats", api_system.system_proc_stats),
    ("/api/v1/meminfos", api_system.meminfos),
    ("/api/v1/authors", api_system.authors),
    ("/api/v1/features", api_system.features),
    ("/api/v1/vhosts", api_stats.vhosts),
    ("/api/v1/vhosts/{id:.*}", api_stats.vhosts),
    ("/api/v1/streams", api_stats.streams),
    ("/api/v1/streams/{id:.*}", api_stats.streams),
    ("/api/v1/clients", api_stats.clients),
    ("/api/v1/clients/{id:.*}", api_stats.clients),
    ("/api/v1/raw", api_stats.raw),
    ("/api/v1/clusters", api_stats.clusters),
    ("/api/v1/tests/requests", api_system.tests_requests),
    ("/api/v1/tests/errors", api_system.tests_errors),
    ("/api/v1/tests/redirects", api_system.tests_redirects),
    ("/api/v1", api_v1),
    ("/api/v1/", api_v1),
    ("/api/v1/{tail:.*}", api_v1),  # SRS: unknown /api/v1/* is answered by the /api/v1/ index
    ("/api", api_root),
    ("/api/", api_root),
    ("/api/{tail:.*}", api_root),
)


def add_routes(app: web.Application, deps: ApiDeps, *, index: bool = True) -> None:
    """Mount the API; ``index``: also ``/`` and any unknown path (the API's own port only)."""
    r = app.router
    for path, fn in _ROUTES:
        r.add_route("*", path, handler(deps, fn))
    r.add_route("*", "/console/{tail:.*}", _console)
    rtc_signal.add_routes(app)  # /rtc/v1/{whip,whep,whip-play,play,publish}/ (SRS: on the API mux)
    gb_api.add_routes(app)  # /gb/v1/publish/ (SRS: on the API mux, with a gb28181 stream_caster)
    if index:
        r.add_route("*", "/", handler(deps, root))
        r.add_route("*", "/{tail:.*}", handler(deps, root))
