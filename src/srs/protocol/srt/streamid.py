"""SRT ``streamid`` -> (mode, vhost, app, stream, param): sans-IO, as SRS's ``srs_srt_streamid_info``.

The forms SRS accepts (reference 1.5, SRS issue 2893):

* ``#!::r=live/livestream,m=publish`` (``m=request`` plays; no ``m`` plays too);
* ``#!::h=host.com,r=app/stream,key=v,...``: ``h`` is the vhost (also passed on as ``vhost=``),
  every other key becomes a query parameter (``token=...`` for the hooks);
* old styles: ``#!::h=live/livestream`` (``h`` holds ``app/stream``) and
  ``#!::h=vhost/live/livestream`` (``h`` holds ``vhost/app/stream``);
* ``?`` is read as ``,``: ``#!::h=live/livestream?secret=x,m=publish``;
* a plain ``app/stream`` or ``stream`` (no ``#!::``): a bare stream takes ``srt_server.default_app``.

An ``m`` other than publish/request (any case) and an empty resource are rejected. The app is what
comes before the first ``/`` of the resource and the stream the rest (SRS). An empty streamid is
SRS's default ``#!::r=live/livestream,m=publish``.

Where we differ: SRS keeps the keys in a ``std::map`` (so the parameters come out in key order and a
repeated key keeps its last value); we keep them in the order they came, ``vhost=`` first, last
value winning. A resource with an empty app or stream (``/x``, ``live/``) is refused here (SRS
would take it and fail later). SRS splits key/value pairs with a tokenizer that pairs tokens by position (``a,b=c``
pairs ``a`` with ``b``); we split each ``,``/``&``/``;``-separated item at its first ``=`` (an item
without one is a key with an empty value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from srs.util.errors import ParseError

DEFAULT_STREAMID = "#!::r=live/livestream,m=publish"
MAX_STREAMID = 512  # SRT's limit (SRTO_STREAMID)

Mode = Literal["publish", "play"]


@dataclass(frozen=True, slots=True)
class StreamId:
    mode: Mode
    vhost: str  # "" when the streamid names none (the server's default vhost then)
    app: str
    stream: str
    param: str  # "?k=v&..." as Request.param, "" when none

    @property
    def publish(self) -> bool:
        return self.mode == "publish"


def _items(body: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for sep in ("&&", "&", ";"):
        body = body.replace(sep, ",")
    for item in body.split(","):
        if not item:
            continue
        k, _, v = item.partition("=")
        out.append((k, v))
    return out


def _subpath(streamid: str) -> tuple[Mode, str, str, list[tuple[str, str]]]:
    """(mode, vhost, resource, params) of a streamid (SRS ``srs_srt_streamid_info``)."""
    if not streamid.startswith("#!::"):
        return "play", "", streamid, []
    mode: Mode = "play"
    vhost = ""
    resource = ""
    from_h = ""
    params: dict[str, str] = {}
    for k, v in _items(streamid[4:].replace("?", ",")):
        if k == "h":
            if "/" in v:
                first, last = v.find("/"), v.rfind("/")
                if first != last:  # vhost/app/stream
                    vhost = v[:first]
                    from_h = v[first + 1 :]
                    params["vhost"] = vhost
                else:  # app/stream
                    from_h = v
            else:
                vhost = v
                params["vhost"] = v
        elif k == "r":
            resource = v
        elif k == "m":
            m = v.lower()
            if m == "publish":
                mode = "publish"
            elif m == "request":
                mode = "play"
            else:
                raise ParseError(f"srt streamid: unknown mode m={v[:32]!r}")
        else:
            params[k] = v
    # SRS walks its keys in order (h < r), so r wins over an old-style h.
    resource = resource or from_h
    ordered = ([("vhost", params.pop("vhost"))] if "vhost" in params else []) + list(params.items())
    return mode, vhost, resource, ordered


def parse_streamid(streamid: str, default_app: str = "live") -> StreamId:
    """Parse ``streamid``; :class:`ParseError` when SRS would refuse it."""
    if len(streamid) > MAX_STREAMID:
        raise ParseError(f"srt streamid longer than {MAX_STREAMID}")
    if not streamid:
        streamid = DEFAULT_STREAMID  # SRS: an empty streamid publishes live/livestream
    mode, vhost, resource, params = _subpath(streamid)
    # A "?" in the resource of a plain path carries its parameters too.
    resource, _, inline = resource.partition("?")
    if not resource:
        raise ParseError("srt streamid: empty resource")
    app, slash, stream = resource.partition("/")
    if not slash:
        app, stream = default_app, resource
    if not app or not stream:
        raise ParseError(f"srt streamid: no app or stream in {resource[:64]!r}")
    param = "&".join(f"{k}={v}" for k, v in params)
    if inline:
        param = f"{param}&{inline}" if param else inline
    return StreamId(mode, vhost, app, stream, "?" + param if param else "")
