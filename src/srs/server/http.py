"""HTTP listeners (aiohttp): the streaming server (``http_server``) and the API (``http_api``).

One aiohttp application per listener; when ``http_api.listen`` equals ``http_server.listen`` both
are served by one (SRS port sharing: ``/api/`` goes to the API, everything else to live streams
then static files). Every response carries SRS's ``Server`` header and, when the request has an
``Origin`` and ``http_server.crossdomain`` is on, SRS's CORS headers.
"""

from __future__ import annotations

import base64
import functools
import hmac
import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from srs import SIGNATURE
from srs.config import HttpsConfig
from srs.protocol.request import stream_url
from srs.server.context import ServerContext
from srs.server.http_flv import FORMATS, serve_flv
from srs.server.llhls import live_playlist_key, m3u8_response, serve_live
from srs.server.mounts import match_stream
from srs.server.vod_http import serve_vod

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


def check_auth(request: web.Request, ctx: ServerContext) -> web.Response | None:
    """``http_api.auth`` (SRS ``SrsHttpAuthMux``): HTTP Basic auth on any path containing ``/api/``,
    on every HTTP port, read from the current config (a reload applies at once). ``None`` = allowed.

    401 with an empty body; ``WWW-Authenticate: Basic`` when the header is missing or the
    credentials are wrong (not for a malformed header, as SRS). OPTIONS never gets here.
    """
    auth = ctx.config.http_api.auth
    if not auth.enabled or "/api/" not in request.path:
        return None
    challenge = {"WWW-Authenticate": "Basic", "Connection": "Close"}
    header = request.headers.get("Authorization", "")
    if not header:
        return web.Response(status=401, headers=challenge)
    if "Basic " not in header:
        return web.Response(status=401, headers={"Connection": "Close"})
    token = header.replace("Basic ", "", 1).strip()
    try:
        plain = base64.b64decode(token.encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):
        return web.Response(status=401, headers={"Connection": "Close"})
    user, sep, password = plain.partition(":")
    if not sep:
        return web.Response(status=401, headers={"Connection": "Close"})
    # Constant-time compares: the answer must not leak how much of a guess was right.
    ok_user = hmac.compare_digest(user.encode(), auth.username.encode())
    ok_password = hmac.compare_digest(password.encode(), auth.password.encode())
    if not (ok_user and ok_password):
        return web.Response(status=401, headers=challenge)
    return None


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
    denied = check_auth(request, ctx)
    if denied is not None:
        _decorate(request, denied)
        return denied
    conns = ctx.http_conns
    if conns is not None:
        conns.busy(request.protocol)
    try:
        resp = await handler(request)
    except web.HTTPException as e:
        _decorate(request, e)
        raise
    finally:
        if conns is not None:
            conns.done(request.protocol)
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
    hls = ctx.hls_play  # HLS sessions (hls_ctx): a playlist may be answered by the session table
    live = ctx.llhls  # LL-HLS: playlists, parts and the newest segments from memory
    if live is not None and len(live) and request.method == "GET":
        root = ctx.config.http_server.dir
        key = live_playlist_key(request, live, root)
        if key is not None:
            body = functools.partial(live.playlist, key, dict(request.query))
            served = await hls.serve_playlist(request, Path(key), body) if hls is not None else None
            return served if served is not None else m3u8_response(await body())
        answer = await serve_live(request, live, root)
        if answer is not None:
            if hls is not None and "hls_ctx=" in request.query_string:
                hls.account(request, Path(request.path), answer.content_length or 0)
            return answer
    path = _static_path(ctx.config.http_server.dir, request.path)
    if path is None:
        raise web.HTTPNotFound()
    if hls is not None and request.method == "GET":
        if path.suffix.lower() == ".m3u8":
            served = await hls.serve_playlist(request, path)
            if served is not None:
                return served
        elif "hls_ctx=" in request.query_string:
            hls.account(request, path)
    ctype = MIME.get(path.suffix.lower(), "application/octet-stream")
    headers = {"Content-Type": ctype}
    if path.suffix.lower() in (".m3u8", ".mpd"):
        headers["Cache-Control"] = "no-cache"  # a live playlist changes every segment
    vod = await serve_vod(request, path, headers)  # .flv?start=, .mp4?range= (SRS's VOD stream)
    if vod is not None:
        return vod
    return web.FileResponse(path, headers=headers)


async def serve_stream_or_static(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    if request.method in ("GET", "HEAD") and ctx.config.http_server.enabled:
        found = match_stream(ctx.config, request.host, request.path, request.query_string)
        if found is not None:
            source = ctx.registry.find(stream_url(found.vhost.name, found.app, found.stream))
            # Not published: SRS hijacks only paths as deep as the mount (a deeper one is a live
            # stream once published, when its mount exists). Ours also lets an existing file win
            # (a DVR recording, an HLS segment beside a .ts mount).
            unpublished = source is None or source.publisher is None
            if unpublished and (
                not found.exact_depth or _static_path(ctx.config.http_server.dir, request.path)
            ):
                found = None
        if found is not None and ".." not in request.path:
            if found.extension in FORMATS and request.method == "GET":
                return await serve_flv(request, ctx, found)
            if found.extension not in FORMATS:
                raise web.HTTPNotFound(text=f"{found.extension} live streaming is not supported yet")
        return await serve_static(request)
    raise web.HTTPNotFound()


class HttpParseErrorsFilter(logging.Filter):
    """aiohttp answers a malformed request (bad header bytes, a request line over 8 KiB, ...) with a
    400 and logs it with a traceback: one warning line is enough, bad input is not our bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg, record.args = "bad HTTP request from %s: %s", (peer, " ".join(str(exc).split())[:200])
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_http_parse_errors() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, HttpParseErrorsFilter) for f in server_log.filters):
        server_log.addFilter(HttpParseErrorsFilter())


def make_app(
    ctx: ServerContext, *, streams: bool, routes: Callable[[web.Application], None] | None = None
) -> web.Application:
    """An aiohttp app for one listener; ``routes`` adds the API's (the app layer wires them)."""
    quiet_http_parse_errors()
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


# ---------------------------------------------------------------- HTTPS


def load_tls(context: ssl.SSLContext, https: HttpsConfig, where: str) -> None:
    """Load ``https.cert``/``https.key`` into ``context``; an OSError names the directive and file.

    SRS reads the files at each TLS handshake, so a bad file only shows when a client connects; we
    load them when the listener starts (and on reload), so a typo is a startup error.
    """
    for name, path in (("cert", https.cert), ("key", https.key)):
        if not os.path.isfile(path):
            raise OSError(2, f"{where}.{name}: cannot read {path}: no such file")
    try:
        context.load_cert_chain(certfile=https.cert, keyfile=https.key)
    except (ssl.SSLError, OSError) as e:
        raise OSError(f"{where}: cannot load cert {https.cert} with key {https.key}: {e}") from None


def tls_context(https: HttpsConfig, where: str) -> ssl.SSLContext:
    """A server-side TLS context for an ``https {}`` block (``where``: ``http_api.https`` ...)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    load_tls(context, https, where)
    return context
