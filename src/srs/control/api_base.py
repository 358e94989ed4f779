"""What every API endpoint shares: dependencies, SRS's envelope, JSON/JSONP responses, errors.

SRS conventions (reference 3.1, ``srs_app_http_api.cpp`` ``srs_api_response*``):

* success: HTTP 200, ``{"code":0,"server":...,"service":...,"pid":"..."}`` plus the data;
* errors: HTTP 200 with ``{"code":N}`` (SRS's error number), raised here as :class:`ApiError`;
* JSONP: ``?callback=fn`` wraps the body as ``fn(...)`` with ``text/javascript``; the callback may
  only use ``[A-Za-z0-9._-]`` (``srs_is_valid_jsonp_callback``, error 4058); with a callback,
  ``&method=GET|PUT|POST|DELETE`` stands for the request method (browsers can only GET a script);
* wrong method on vhosts/streams/clients: a real HTTP 405, ``text/plain``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from srs.util.errors import ErrorCode

if TYPE_CHECKING:
    from srs.control.stats import Statistics
    from srs.server.context import ServerContext

Body = dict[str, Any]

_CALLBACK = re.compile(r"[A-Za-z0-9._\-]*")
_EMULATED_METHODS = frozenset({"GET", "PUT", "POST", "DELETE"})
_INT_PREFIX = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)")
INT_MAX = 2**31 - 1  # SRS reads start/count with atoi() into an int


class ReloadOutcome(Protocol):
    ok: bool
    message: str
    rid: str


class ApiError(Exception):
    """Answer ``{"code": code}`` (HTTP 200, SRS style)."""

    def __init__(self, code: int, why: str = "") -> None:
        super().__init__(why or f"api error {code}")
        self.code = int(code)


@dataclass
class CpuSample:
    """The previous CPU reading, for the ``percent`` fields of the proc stats endpoints."""

    self_ticks: int | None = None  # utime+stime of this process
    self_at: float | None = None  # monotonic seconds of that reading
    sys_total: int | None = None  # all jiffies of /proc/stat "cpu"
    sys_idle: int | None = None  # idle+iowait jiffies


@dataclass
class ApiDeps:
    """What the API needs, wired by the app (the API may not import the app: layers)."""

    ctx: ServerContext
    stats: Statistics
    reload: Callable[[], Awaitable[ReloadOutcome]]
    last_reload: Callable[[], ReloadOutcome | None]
    # A reload asked through the raw API runs in the background, as SRS's (it signals itself).
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    reloading: bool = False
    cpu: CpuSample = field(default_factory=CpuSample)


Endpoint = Callable[[ApiDeps, web.Request], Body | web.StreamResponse]


def envelope(ctx: ServerContext, **fields: Any) -> Body:
    ident = ctx.identity
    out: Body = {"code": 0, "server": ident.server_id, "service": ident.service_id, "pid": str(ident.pid)}
    out.update(fields)
    return out


def dumps(body: Body) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_response(body: Body, status: int = 200) -> web.Response:
    # bytes, so that the Content-Type is SRS's bare "application/json" (no charset parameter)
    return web.Response(
        status=status,
        body=dumps(body).encode(),
        content_type="application/json",
        headers={"Connection": "Close"},
    )


def jsonp_response(callback: str, body: Body) -> web.Response:
    return web.Response(
        body=f"{callback}({dumps(body)})".encode(),
        content_type="text/javascript",
        headers={"Connection": "Close"},
    )


def method_not_allowed() -> web.Response:
    """SRS ``srs_go_http_error(w, 405)``: the status text as a plain-text body."""
    return web.Response(
        status=405,
        text="Method Not Allowed",
        content_type="text/plain",
        charset="utf-8",
        headers={"Connection": "Close"},
    )


def query(request: web.Request, key: str) -> str:
    """SRS ``query_get``: the value of ``key`` ("" when absent); the last one wins when repeated."""
    values = request.query.getall(key, ())
    return values[-1] if values else ""


def callback_of(request: web.Request) -> str:
    """The JSONP callback ("" for plain JSON); :class:`ApiError` 4058 when it is not a safe name."""
    cb = query(request, "callback")
    if cb and _CALLBACK.fullmatch(cb) is None:
        raise ApiError(ErrorCode.HTTP_JSONP, "invalid JSONP callback")
    return cb


def api_method(request: web.Request) -> str:
    """The request method, or the JSONP-emulated one (``?callback=fn&method=DELETE``)."""
    if query(request, "callback"):
        m = query(request, "method")
        if m in _EMULATED_METHODS:
            return m
    return request.method


def query_int(text: str) -> int:
    """C ``atoi`` as SRS uses it for ``start``/``count``: the leading integer or 0, clamped to an int
    (a thousand-digit number is not parsed, just clamped)."""
    m = _INT_PREFIX.match(text)
    if m is None:
        return 0
    sign, digits = m.groups()
    digits = digits.lstrip("0") or "0"
    value = INT_MAX if len(digits) > 10 else min(int(digits), INT_MAX)
    return -value if sign == "-" else value


def respond(request: web.Request, body: Body, callback: str) -> web.Response:
    return jsonp_response(callback, body) if callback else json_response(body)


def handler(deps: ApiDeps, fn: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler for an endpoint: JSONP, SRS error codes, the JSON envelope."""

    async def h(request: web.Request) -> web.StreamResponse:
        try:
            callback = callback_of(request)
        except ApiError as e:
            # SRS drops the connection on a bad callback (the request does not parse); we say why.
            return json_response({"code": e.code}, status=400)
        try:
            out = fn(deps, request)
        except ApiError as e:
            out = {"code": e.code}
        if isinstance(out, web.StreamResponse):
            return out
        return respond(request, out, callback)

    return h
