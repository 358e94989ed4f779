"""WebRTC signalling over HTTP (SRS ``srs_app_rtc_api.cpp``): WHIP/WHEP and the legacy JSON API.

Routes (on the API mux, as SRS registers them in ``SrsRtcServer::listen_api``):

* ``/rtc/v1/whip/``, ``/rtc/v1/whep/``, ``/rtc/v1/whip-play/`` (``SrsGoApiRtcWhip``): the body is the
  offer SDP. ``DELETE`` (or a JSONP ``method=DELETE``) with ``session`` and ``token`` ends a session:
  200 with an empty body. Anything else creates one: query ``app`` (``live``), ``stream``
  (``livestream``), ``action`` (``publish``; a path ending ``/whep/`` or ``/whip-play/`` forces
  ``play``), ``eip``/``candidate``, ``codec``, ``encrypt`` (else ``rtc_server.encrypt``), ``dtls``,
  ``ice-ufrag`` (4..32), ``ice-pwd`` (22..32), ``vhost``/``domain`` (else the ``Host`` header). Success:
  201, ``application/sdp``, the answer, ``Location: /rtc/v1/whip/?action=delete&token=<t>&app=<a>
  &stream=<s>&session=<id>``. Any failure closes the connection without a response (we log why);
  an empty answer is a 500.
* ``/rtc/v1/publish/``, ``/rtc/v1/play/`` (``SrsGoApiRtcPublish/Play``): a JSON body ``{sdp, streamurl,
  clientip?, api?, tid?}``; ``streamurl`` is parsed like an RTMP URL (any scheme; ``?vhost=`` inside
  it); query ``eip``/``candidate``, ``codec``, and for play ``encrypt``/``dtls`` (publish always
  encrypts). Success: 200 ``{code:0, server, service, pid, sdp, sessionid}``; any failure: 200
  ``{"code":400}``. Both carry ``Connection: Close`` (JSONP ``?callback=`` works as on the API).

The request becomes a :class:`~srs.server.rtc.spec.SessionSpec` for ``ctx.rtc.create`` (the media
side: hooks, security, stats, negotiation). Stream ``param`` is SRS's: WHIP's whole query string
without ``?`` (``r->query()``); the legacy API's ``?...`` of the stream URL, plus ``upstream=rtc``
for publish (``?k=v&upstream=rtc``, or ``upstream=rtc`` alone).

Where we differ from SRS: the app/stream names must pass :func:`srs.protocol.request.unsafe_name`
(as every adapter); ``ice-ufrag``/``ice-pwd`` must also be ICE characters (``[A-Za-z0-9+/]``), since
they are written into the answer; ``codec`` values other than ``hevc``/``h265``/``av1``/``vp8`` mean
H.264 (as SRS) but are matched without case. A ``DELETE`` of a session already gone is answered 200
(as SRS); a wrong token for a live session is refused.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from srs.config import RtcServerConfig, VhostConfig
from srs.protocol.request import DEFAULT_APP, Request, discover, unsafe_name
from srs.protocol.rtc.negotiate import VIDEO_CODECS
from srs.protocol.rtc.sdp import Candidate, SessionDescription
from srs.server.context import ServerContext
from srs.server.http import CTX
from srs.server.http_flv import client_ip
from srs.server.rtc.candidates import (
    HostResolver,
    LocalAddress,
    api_host_needs_resolving,
    candidate_hosts,
    local_addresses,
    make_candidates,
)
from srs.server.rtc.spec import Created, RtcSessions, SessionSpec
from srs.util.errors import ErrorCode, SrsError
from srs.util.log import context_id

__all__ = ["INTERFACES", "RESOLVER", "add_routes", "whip_location"]

log = logging.getLogger("srs")

WHIP_PATHS = ("/rtc/v1/whip/", "/rtc/v1/whep/", "/rtc/v1/whip-play/")
PLAY_PATH = "/rtc/v1/play/"
PUBLISH_PATH = "/rtc/v1/publish/"

ICE_UFRAG = (4, 32)  # SRS_ICE_UFRAG_MIN/MAX
ICE_PWD = (22, 32)  # SRS_ICE_PWD_MIN/MAX
_ICE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
# No "+": query parsers (aiohttp's, ours) read it as a space, and ICE ufrags have it (Chromium's do).
_LOCATION_SAFE = "-._~:@!$'()*,;=/"

# Injected: how API host names are resolved and which local addresses exist (tests replace them).
RESOLVER = HostResolver()
INTERFACES: Callable[[], Sequence[LocalAddress]] = local_addresses


_CALLBACK = re.compile(r"[A-Za-z0-9._\-]*")
_EMULATED_METHODS = frozenset({"GET", "PUT", "POST", "DELETE"})


# The API's conventions (srs.control.api_base; the server layer may not import the control layer).


def query(request: web.Request, key: str) -> str:
    """SRS ``query_get``: the value of ``key`` ("" when absent); the last one wins when repeated."""
    values = request.query.getall(key, ())
    return values[-1] if values else ""


def api_method(request: web.Request) -> str:
    """The request method, or the JSONP-emulated one (``?callback=fn&method=DELETE``), as SRS."""
    if query(request, "callback"):
        m = query(request, "method")
        if m in _EMULATED_METHODS:
            return m
    return request.method


def _json_answer(request: web.Request, body: dict[str, Any]) -> web.Response:
    """SRS ``srs_api_response``: JSON, or JSONP with ``?callback=`` (a bad name answers plain JSON)."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    callback = query(request, "callback")
    if callback and _CALLBACK.fullmatch(callback) is not None:
        resp = web.Response(body=f"{callback}({text})".encode(), content_type="text/javascript")
    else:
        resp = web.Response(body=text.encode(), content_type="application/json")
    resp.headers["Connection"] = "Close"
    resp.force_close()
    return resp


class _Refused(SrsError):
    """A signalling request we refuse (the code is SRS's, only logged)."""


@dataclass
class _Options:
    """The query options every signalling request reads."""

    eip: str
    codec: str
    encrypt: bool
    dtls: bool


def _options(request: web.Request, rtc: RtcServerConfig, *, publish_legacy: bool = False) -> _Options:
    eip = query(request, "eip") or query(request, "candidate")
    codec = query(request, "codec").lower()
    if codec not in VIDEO_CODECS:
        codec = "h264"  # SRS: anything but hevc/av1 is H.264
    if publish_legacy:
        return _Options(eip, codec, True, True)  # SRS's legacy publish ignores encrypt/dtls
    srtp = query(request, "encrypt")
    return _Options(
        eip,
        codec,
        encrypt=rtc.encrypt if srtp == "" else srtp != "false",
        dtls=query(request, "dtls") != "false",
    )


def _host_only(host_header: str) -> str:
    """The host of a ``Host`` header, without port or IPv6 brackets."""
    if host_header.startswith("["):
        end = host_header.find("]")
        return host_header[1:end] if end > 0 else host_header.strip("[")
    if host_header.count(":") == 1:
        return host_header.rsplit(":", 1)[0]
    return host_header


def _local_port(request: web.Request) -> int:
    """The port the request came in on (``request.url`` raises on a malformed ``Host``)."""
    sock = request.transport.get_extra_info("sockname") if request.transport is not None else None
    return int(sock[1]) if isinstance(sock, tuple) and len(sock) > 1 else 80


def _ice(value: str, what: str, bounds: tuple[int, int]) -> str:
    if not value:
        return ""
    lo, hi = bounds
    if not lo <= len(value.encode("utf-8", "surrogatepass")) <= hi:
        raise _Refused(f"Invalid {what} {value[:40]!r}: length not in {lo}..{hi}", ErrorCode.RTC_INVALID_ICE)
    if not set(value) <= _ICE_CHARS:
        raise _Refused(f"Invalid {what} {value[:40]!r}: not ICE characters", ErrorCode.RTC_INVALID_ICE)
    return value


def _sessions(ctx: ServerContext) -> RtcSessions:
    rtc = ctx.rtc  # set by the app while rtc_server runs
    if rtc is None:
        raise _Refused("RTC is disabled: rtc_server is off", ErrorCode.RTC_DISABLED)
    return rtc


def _rtc_vhost(ctx: ServerContext, name: str) -> VhostConfig:
    vhost = ctx.resolve_vhost(name)
    if not vhost.rtc.enabled:
        raise _Refused(f"RTC is disabled in vhost {vhost.name}", ErrorCode.RTC_DISABLED)
    return vhost


def _check_names(req: Request) -> None:
    why = unsafe_name(req.app, req.stream)
    if why is not None:
        raise _Refused(f"invalid stream {req.app}/{req.stream}: {why}", ErrorCode.RTMP_STREAM_NAME_EMPTY)


async def _candidates(ctx: ServerContext, rtc: RtcSessions, eip: str, api_host: str) -> list[Candidate]:
    cfg = ctx.config.rtc_server
    resolved = await RESOLVER.resolve(api_host) if api_host_needs_resolving(cfg, api_host) else None
    hosts = candidate_hosts(cfg, eip=eip, api_host=api_host, resolved=resolved, interfaces=INTERFACES())
    udp = rtc.udp_port if rtc.udp_port is not None else cfg.listen
    tcp = rtc.tcp_port if rtc.tcp_port is not None else cfg.tcp.listen
    return make_candidates(hosts, cfg.protocol, udp, tcp)


def _offer(sdp: str | bytes) -> SessionDescription:
    return SessionDescription.parse(sdp)  # ParseError (5012) on anything malformed


async def _create(rtc: RtcSessions, spec: SessionSpec) -> Created:
    try:
        return await rtc.create(spec)
    except SrsError:
        raise
    except Exception as e:  # the media side must never turn into a traceback for the client
        log.exception("RTC: creating the session failed")
        raise _Refused(f"create session: {type(e).__name__}: {e}") from e


# ---------------------------------------------------------------- WHIP / WHEP


def whip_location(created: Created, app: str, stream: str) -> str:
    """The ``Location`` of a WHIP/WHEP session (SRS's, with unsafe characters percent-encoded)."""

    def q(v: str) -> str:
        return quote(v, safe=_LOCATION_SAFE)

    return (
        f"/rtc/v1/whip/?action=delete&token={q(created.token)}&app={q(app)}&stream={q(stream)}"
        f"&session={q(created.session_id)}"
    )


def _reject(request: web.Request, why: SrsError) -> web.HTTPException:
    """SRS compat: a refused WHIP/WHEP request gets no response, the connection is just closed."""
    log.warning("RTC: %s %s refused: %s", request.method, request.path, why)
    if request.transport is not None:
        request.transport.close()
    return web.HTTPForbidden()


async def _whip_delete(request: web.Request, ctx: ServerContext) -> web.StreamResponse:
    session = query(request, "session")
    token = query(request, "token")
    if not token:
        raise _Refused("token empty", ErrorCode.RTC_INVALID_SESSION)
    rtc = _sessions(ctx)
    if not rtc.delete(session, token):
        raise _Refused(
            f"no session {session[:80]!r} with token {token[:40]!r}", ErrorCode.RTC_INVALID_SESSION
        )
    log.info("WHIP: Delete session=%s", session)
    resp = web.Response(status=200, headers={"Connection": "Close"})
    resp.force_close()
    return resp


async def _whip_spec(request: web.Request, ctx: ServerContext, rtc: RtcSessions) -> SessionSpec:
    body = await request.read()
    ip = client_ip(request, ctx)
    action = query(request, "action") or "publish"
    if request.path.endswith(("/whip-play/", "/whep/")):
        action = "play"
    publish = action == "publish"
    app = query(request, "app") or "live"
    stream = query(request, "stream") or "livestream"
    host = query(request, "vhost") or query(request, "domain") or _host_only(request.host)
    ice_ufrag = _ice(query(request, "ice-ufrag"), "ice-ufrag", ICE_UFRAG)
    ice_pwd = _ice(query(request, "ice-pwd"), "ice-pwd", ICE_PWD)
    vhost = _rtc_vhost(ctx, host)
    opts = _options(request, ctx.config.rtc_server)
    req = Request(
        vhost=vhost.name,
        app=app,
        stream=stream,
        param=request.query_string,
        schema=request.scheme,
        host=host,
        port=_local_port(request),
        ip=ip,
    )
    _check_names(req)
    log.info(
        "RTC whip %s %s, clientip=%s, offer=%dB, eip=%s, codec=%s, srtp=%s, dtls=%s, param=%s",
        action,
        req.stream_url,
        ip,
        len(body),
        opts.eip,
        opts.codec,
        opts.encrypt,
        opts.dtls,
        req.param,
    )
    offer = _offer(body)
    return SessionSpec(
        request=req,
        vhost=vhost,
        publish=publish,
        offer=offer,
        candidates=await _candidates(ctx, rtc, opts.eip, host),
        codec=opts.codec,
        encrypt=opts.encrypt,
        dtls=opts.dtls,
        ice_ufrag=ice_ufrag,
        ice_pwd=ice_pwd,
        client_ip=ip,
        kind="rtc-publish" if publish else "rtc-play",
    )


async def whip(request: web.Request) -> web.StreamResponse:
    """``/rtc/v1/whip/``, ``/rtc/v1/whep/``, ``/rtc/v1/whip-play/``."""
    ctx = request.app[CTX]
    context_id.set(ctx.new_cid())
    try:
        if api_method(request) == "DELETE":
            return await _whip_delete(request, ctx)
        rtc = _sessions(ctx)
        spec = await _whip_spec(request, ctx, rtc)
        created = await _create(rtc, spec)
    except SrsError as e:
        raise _reject(request, e) from None
    except web.HTTPException as e:  # the body could not be read (too large, ...)
        raise _reject(request, _Refused(f"read sdp: {e.reason}")) from None
    if not created.answer:
        log.warning("RTC: empty answer for %s", spec.request.stream_url)
        resp = web.Response(status=500, text="Internal Server Error", headers={"Connection": "Close"})
    else:
        resp = web.Response(
            status=201,
            body=created.answer.encode(),
            content_type="application/sdp",
            headers={
                "Location": whip_location(created, spec.request.app, spec.request.stream),
                "Connection": "Close",
            },
        )
    resp.force_close()
    return resp


# ---------------------------------------------------------------- legacy JSON API


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise _Refused(f"invalid body: {str(e)[:80]}", ErrorCode.RTC_API_BODY) from None
    if not isinstance(obj, dict):
        raise _Refused("invalid body: not a JSON object", ErrorCode.RTC_API_BODY)
    return obj


def _string(obj: dict[str, Any], key: str) -> str | None:
    """SRS ``ensure_property_string``: the value when it is a string, else None."""
    v = obj.get(key)
    return v if isinstance(v, str) else None


async def _legacy_spec(
    request: web.Request, ctx: ServerContext, rtc: RtcSessions, publish: bool
) -> SessionSpec:
    try:
        raw = await request.read()
    except web.HTTPException as e:
        raise _Refused(f"read body: {e.reason}", ErrorCode.RTC_API_BODY) from None
    obj = _json_object(raw)
    sdp = _string(obj, "sdp")
    if sdp is None:
        raise _Refused("not sdp", ErrorCode.RTC_API_BODY)
    streamurl = _string(obj, "streamurl")
    if streamurl is None:
        raise _Refused("not streamurl", ErrorCode.RTC_API_BODY)
    ip = _string(obj, "clientip") or client_ip(request, ctx)
    # srs_parse_rtmp_url: the stream is what follows the last slash.
    slash = streamurl.rfind("/")
    tc_url, stream_name = (streamurl[:slash], streamurl[slash + 1 :]) if slash >= 0 else (streamurl, "")
    schema, host, port, vhost_name, app, stream, param = discover(tc_url, stream_name)
    if publish:
        param = (param + "&upstream=rtc").lstrip("&")  # SRS identifies a WebRTC publisher by it
    vhost = _rtc_vhost(ctx, vhost_name)
    opts = _options(request, ctx.config.rtc_server, publish_legacy=publish)
    req = Request(
        vhost=vhost.name,
        app=app or DEFAULT_APP,
        stream=stream,
        param=param,
        tc_url=tc_url,
        schema=schema,
        host=host,
        port=port,
        ip=ip,
    )
    _check_names(req)
    log.info(
        "RTC %s %s, api=%s, tid=%s, clientip=%s, app=%s, stream=%s, offer=%dB, eip=%s, codec=%s",
        "publish" if publish else "play",
        streamurl[:200],
        (_string(obj, "api") or "")[:200],
        (_string(obj, "tid") or "")[:40],
        ip,
        req.app,
        req.stream,
        len(sdp),
        opts.eip,
        opts.codec,
    )
    offer = _offer(sdp)
    return SessionSpec(
        request=req,
        vhost=vhost,
        publish=publish,
        offer=offer,
        candidates=await _candidates(ctx, rtc, opts.eip, host),
        codec=opts.codec,
        encrypt=opts.encrypt,
        dtls=opts.dtls,
        client_ip=ip,
        kind="rtc-publish" if publish else "rtc-play",
    )


async def _legacy(request: web.Request, publish: bool) -> web.StreamResponse:
    ctx = request.app[CTX]
    context_id.set(ctx.new_cid())
    try:
        if _CALLBACK.fullmatch(query(request, "callback")) is None:
            raise _Refused("invalid JSONP callback", ErrorCode.HTTP_JSONP)  # SRS drops the request
        rtc = _sessions(ctx)
        created = await _create(rtc, await _legacy_spec(request, ctx, rtc, publish))
    except SrsError as e:
        log.warning("RTC error %s", e)
        # SRS: srs_api_response_code(w, r, SRS_CONSTS_HTTP_BadRequest), the HTTP status as the code.
        return _json_answer(request, {"code": 400})
    ident = ctx.identity
    return _json_answer(
        request,
        {
            "code": 0,
            "server": ident.server_id,
            "service": ident.service_id,
            "pid": str(ident.pid),
            "sdp": created.answer,
            "sessionid": created.session_id,
        },
    )


async def legacy_play(request: web.Request) -> web.StreamResponse:
    """``/rtc/v1/play/``."""
    return await _legacy(request, publish=False)


async def legacy_publish(request: web.Request) -> web.StreamResponse:
    """``/rtc/v1/publish/``."""
    return await _legacy(request, publish=True)


def add_routes(app: web.Application) -> None:
    """Mount the signalling routes (SRS's mux serves each pattern and everything below it)."""
    r = app.router
    for path in WHIP_PATHS:
        r.add_route("*", path, whip)
        r.add_route("*", path + "{tail:.+}", whip)
    for path, fn in ((PLAY_PATH, legacy_play), (PUBLISH_PATH, legacy_publish)):
        r.add_route("*", path, fn)
        r.add_route("*", path + "{tail:.+}", fn)
