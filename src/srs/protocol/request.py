"""Client requests: which vhost/app/stream a client asks for (SRS ``SrsRequest``).

SRS derives the stream from the RTMP ``tcUrl`` plus the stream name of ``play``/``publish`` (and
from HTTP paths, SRT stream ids, WHIP queries in the same way). The rules, in SRS's order
(``srs_discovery_tc_url``, ``srs_guess_stream_by_app``, ``SrsRequest::strip``):

1. full URL = tcUrl + "/" + stream name (the stream name may carry ``?k=v``);
2. FMLE forms put the query on the app (``rtmp://ip/app?vhost=V/stream``, ``rtmp://ip/app#k=v/stream``,
   ``rtmp://ip/app...vhost...V/stream``): the query is moved after the stream;
3. ``/_definst_`` is removed;
4. stream = last path element, app = the rest (without the leading slash; ``__defaultApp__`` if
   empty), param = ``?query`` (+ ``#fragment``);
5. vhost = query ``vhost=``, else ``domain=``, else the host; ``vhost=__defaultVhost__`` counts as not
   given and, when it was the only parameter, the param is cleared;
6. an empty stream is guessed from the app (``live/stream``) or from the param;
7. whitespace is removed from names and slashes trimmed from app/stream ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlsplit

DEFAULT_VHOST = "__defaultVhost__"
DEFAULT_APP = "__defaultApp__"
_WS = " \n\r\t"


def _remove_chars(s: str, chars: str) -> str:
    return s.translate({ord(ch): None for ch in chars})


NAME_MAX = 255  # bytes per path element: what a file system takes (HLS/DVR turn names into paths)


def unsafe_name(app: str, stream: str) -> str | None:
    """Why an app/stream name cannot be served, or None (ours: SRS only refuses an empty stream).

    Outputs turn ``[app]/[stream]`` into file paths (HLS, DVR), so a name is refused when one of its
    ``/``-separated elements is empty, ``.`` or ``..``, longer than 255 bytes, or when it holds a
    control character (NUL, CR, LF, ...) or a backslash. ``app`` may have several elements
    (``live/sub``), as SRS allows.
    """
    for what, name in (("app", app), ("stream", stream)):
        for ch in name:
            if ch < " " or ch == "\x7f" or ch == "\\":
                return f"{what} name has a forbidden character {ch!r}"
        for part in name.split("/"):
            if part in ("", ".", ".."):
                return f"{what} name {name[:64]!r} has an empty, '.' or '..' path element"
            if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX:
                return f"{what} name has an element longer than {NAME_MAX} bytes"
    return None


@dataclass(frozen=True, slots=True)
class Request:
    """What a client asked for, after SRS's normalisation."""

    vhost: str
    app: str
    stream: str
    param: str = ""  # "?k=v..." kept for hooks, "" when none
    tc_url: str = ""
    schema: str = "rtmp"
    host: str = ""
    port: int = 1935
    page_url: str = ""
    swf_url: str = ""
    object_encoding: float = 0.0
    ip: str = ""
    args: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def stream_url(self) -> str:
        """SRS stream URL: ``/app/stream`` on the default vhost, else ``vhost/app/stream``."""
        return stream_url(self.vhost, self.app, self.stream)

    def query(self) -> dict[str, str]:
        q = self.param.lstrip("?").split("#", 1)[0]
        return dict(parse_qsl(q, keep_blank_values=True))

    def with_vhost(self, vhost: str) -> Request:
        return replace(self, vhost=vhost)


def strip_extension(stream: str) -> str:
    """``live/x.flv`` and ``live/x.m3u8`` are the stream ``live/x`` (SRS compat)."""
    dot = stream.rfind(".")
    if dot > 0 and "/" not in stream[dot:]:
        return stream[:dot]
    return stream


def stream_url(vhost: str, app: str, stream: str) -> str:
    stream = strip_extension(stream)
    if vhost == DEFAULT_VHOST or not vhost:
        return f"/{app}/{stream}"
    return f"{vhost}/{app}/{stream}"


def _default_port(schema: str) -> int:
    return {"rtmp": 1935, "http": 80, "https": 443, "rtmps": 443, "srt": 10080, "webrtc": 1985}.get(
        schema, 1935
    )


def discover(tc_url: str, stream: str) -> tuple[str, str, int, str, str, str, str]:
    """SRS ``srs_discovery_tc_url``: returns (schema, host, port, vhost, app, stream, param)."""
    if not stream:
        full = tc_url + "/"
    elif stream.startswith("/"):
        full = tc_url + stream
    else:
        full = tc_url + "/" + stream
    full = full.replace("...vhost...", "?vhost=")
    # FMLE: rtmp://ip/app/app2?k=v/stream or rtmp://ip/app/app2#k=v/stream -> move the query last.
    q = min((i for i in (full.find("?"), full.find("#")) if i >= 0), default=-1)
    rs = full.rfind("/")
    if rs >= 0 and q >= 0 and q < rs:
        full = full[:q] + full[rs:] + full[q:rs]
    if "/_definst_" in full:
        full = full.replace("/_definst_", "")
    schema, _, rest = full.partition("://")
    if not _:
        schema, rest = "rtmp", full
    try:
        parts = urlsplit("x://" + rest)
        host = parts.hostname or ""
        port = parts.port or _default_port(schema.lower())
    except ValueError:
        parts = urlsplit("x://" + rest.replace("[", "").replace("]", ""))
        host = (parts.netloc.rsplit(":", 1)[0]) if parts.netloc else ""
        port = _default_port(schema.lower())
    path = parts.path
    slash = path.rfind("/")
    stream_name = path[slash + 1 :] if slash >= 0 else path
    app = path[:slash] if slash >= 0 else ""
    app = app.lstrip("/")
    if not app:
        app = DEFAULT_APP
    param = ("?" + parts.query) if parts.query else ""
    if parts.fragment:
        param += "#" + parts.fragment
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    in_query = query.get("vhost", "") or query.get("domain", "")
    vhost = in_query if in_query and in_query != DEFAULT_VHOST else host
    if "&" not in param and in_query == DEFAULT_VHOST:
        param = ""
    return schema, host, port, vhost, app, stream_name, param


def guess_stream(app: str, param: str, stream: str) -> tuple[str, str, str]:
    """SRS ``srs_guess_stream_by_app`` for an empty stream name."""
    if stream:
        return app, param, stream
    pos = app.find("/")
    if pos >= 0:
        stream = app[pos + 1 :]
        app = app[:pos]
        q = stream.find("?")
        if q >= 0:
            param = stream[q:]
            stream = stream[:q]
        return app, param, stream
    pos = param.find("/")
    if pos >= 0:
        stream = param[pos + 1 :]
        param = param[:pos]
    return app, param, stream


def strip(app: str, stream: str, vhost: str, host: str) -> tuple[str, str, str, str]:
    """SRS ``SrsRequest::strip``: drop whitespace, trim slashes."""
    host = _remove_chars(host, "/" + _WS)
    vhost = _remove_chars(vhost, "/" + _WS)
    app = _remove_chars(app, _WS).strip("/")
    stream = _remove_chars(stream, _WS).strip("/")
    return app, stream, vhost, host


def parse_rtmp(
    tc_url: str,
    stream_name: str,
    *,
    page_url: str = "",
    swf_url: str = "",
    object_encoding: float = 0.0,
    ip: str = "",
    args: dict[str, object] | None = None,
) -> Request:
    """The request of an RTMP ``play``/``publish`` on a connection made with ``tc_url``."""
    schema, host, port, vhost, app, stream, param = discover(tc_url, stream_name)
    app, param, stream = guess_stream(app, param, stream)
    app, stream, vhost, host = strip(app, stream, vhost, host)
    return Request(
        vhost=vhost,
        app=app or DEFAULT_APP,
        stream=stream,
        param=param,
        tc_url=tc_url,
        schema=schema,
        host=host,
        port=port,
        page_url=page_url,
        swf_url=swf_url,
        object_encoding=object_encoding,
        ip=ip,
        args=dict(args or {}),
    )


def parse_http(host_header: str, path: str, query: str, *, app: str, stream: str, ip: str = "") -> Request:
    """The request of an HTTP stream (HTTP-FLV ...) already matched against a mount."""
    q = dict(parse_qsl(query, keep_blank_values=True))
    host = host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
    host = host.strip("[]")
    in_query = q.get("vhost", "") or q.get("domain", "")
    vhost = in_query if in_query and in_query != DEFAULT_VHOST else host
    param = ("?" + query) if query else ""
    app, stream, vhost, host = strip(app, stream, vhost, host)
    return Request(
        vhost=vhost,
        app=app or DEFAULT_APP,
        stream=stream,
        param=param,
        tc_url=f"http://{host_header}/{app}",
        schema="http",
        host=host,
        port=80,
        ip=ip,
    )
