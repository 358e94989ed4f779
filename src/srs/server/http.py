"""HTTP listeners (aiohttp): the streaming server (``http_server``) and the API (``http_api``).

One aiohttp application per listener; when ``http_api.listen`` equals ``http_server.listen`` both
are served by one (SRS port sharing: ``/api/`` goes to the API, everything else to live streams
then static files). Every response carries SRS's ``Server`` header and, when the request has an
``Origin`` and ``http_server.crossdomain`` is on, SRS's CORS headers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from srs import SIGNATURE
from srs.server.context import ServerContext
from srs.server.http_flv import serve_flv
from srs.server.mounts import match_stream

log = logging.getLogger("srs")

CTX: web.AppKey[ServerContext] = web.AppKey("srs_ctx", ServerContext)

MIME = {
    ".ts": "video/MP2T",
    ".flv": "video/x-flv",
    ".m4v": "video/x-m4v",
    ".3gpp": "video/3gpp",
    ".3gp": "video/3gpp",
    ".mp4": "video/mp4",
    ".aac": "audio/x-aac",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/x-m4a",
    ".ogg": "audio/ogg",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".html": "text/html;charset=utf-8",
    ".css": "text/css;charset=utf-8",
    ".js": "text/javascript",
    ".json": "application/json",
    ".xml": "text/xml;charset=utf-8",
    ".txt": "text/plain;charset=utf-8",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".swf": "application/x-shockwave-flash",
}

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Allow-Methods": "*",
    "Access-Control-Expose-Headers": "*",
    "Access-Control-Allow-Credentials": "false",
    "Access-Control-Request-Private-Network": "true",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _decorate(request: web.Request, resp: web.StreamResponse) -> None:
    if resp.prepared:
        return
    resp.headers["Server"] = SIGNATURE
    ctx = request.app[CTX]
    if ctx.config.http_server.crossdomain and "Origin" in request.headers:
        resp.headers.update(CORS_HEADERS)


@web.middleware
async def srs_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CTX]
    if request.method == "OPTIONS":
        if not ctx.config.http_server.crossdomain:
            resp: web.StreamResponse = web.Response(status=405)
        else:
            resp = web.Response(status=200)
        _decorate(request, resp)
        return resp
    try:
        resp = await handler(request)
    except web.HTTPException as e:
        _decorate(request, e)
        raise
    _decorate(request, resp)
    return resp


async def on_prepare(request: web.Request, resp: web.StreamResponse) -> None:
    """Streaming responses are prepared inside handlers: decorate them before headers go out."""
    if "Server" not in resp.headers or resp.headers["Server"] != SIGNATURE:
        resp.headers["Server"] = SIGNATURE
        ctx = request.app[CTX]
        if ctx.config.http_server.crossdomain and "Origin" in request.headers:
            resp.headers.update(CORS_HEADERS)


def _static_path(root: str, url_path: str) -> Path | None:
    """The file under ``root`` for ``url_path``, or None; never anything outside ``root``."""
    if ".." in url_path or "\x00" in url_path:
        return None
    base = Path(root).resolve()
    rel = url_path.lstrip("/")
    target = (base / rel).resolve()
    try:
        target.relative_to(base)
    except ValueError:
        return None
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


async def serve_static(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    raw = request.raw_path.split("?", 1)[0]
    if ".." in raw or ".." in request.path:
        # SRS compat: any URL containing ".." is refused.
        raise web.HTTPBadRequest(text="invalid path")
    path = _static_path(ctx.config.http_server.dir, request.path)
    if path is None:
        raise web.HTTPNotFound()
    ctype = MIME.get(path.suffix.lower(), "application/octet-stream")
    return web.FileResponse(path, headers={"Content-Type": ctype})


async def serve_stream_or_static(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    if request.method in ("GET", "HEAD") and ctx.config.http_server.enabled:
        found = match_stream(ctx.config, request.host, request.path, request.query_string)
        if found is not None and ".." not in request.path:
            if found.extension == ".flv" and request.method == "GET":
                return await serve_flv(request, ctx, found)
            if found.extension != ".flv":
                raise web.HTTPNotFound(text=f"{found.extension} live streaming is not supported yet")
        return await serve_static(request)
    raise web.HTTPNotFound()


def make_app(
    ctx: ServerContext, *, streams: bool, routes: Callable[[web.Application], None] | None = None
) -> web.Application:
    """An aiohttp app for one listener; ``routes`` adds the API's (the app layer wires them)."""
    app = web.Application(middlewares=[srs_headers], client_max_size=1 << 20)
    app[CTX] = ctx
    app.on_response_prepare.append(on_prepare)
    if routes is not None:
        routes(app)
    if streams:
        app.router.add_route("*", "/{tail:.*}", serve_stream_or_static)
    return app


def ensure_dir(path: str) -> None:
    if path and not os.path.isdir(path):
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            log.warning("cannot create http_server.dir %s: %s", path, e)
