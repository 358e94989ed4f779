"""HTTP live-stream mounts (``vhost.http_remux.mount``), matched the way SRS's HTTP mux does.

A mount template such as ``[vhost]/[app]/[stream].flv`` becomes, for the default vhost, the path
pattern ``/[app]/[stream].flv`` (any Host), and for a named vhost ``v.com/[app]/[stream].flv``, a
host-specific pattern matched against the request's host (``?vhost=``/``?domain=`` in the query
override the ``Host`` header). A request whose path fits the template is served as that stream
whether or not it is published yet (SRS "hijack": the player waits for the publisher), but, as
SRS, a stream not published yet only when the path has as many ``/`` as the template
(``/live/rec/x.flv`` is a file for ``/[app]/[stream].flv`` until ``live/rec/x`` is published):
:attr:`MountMatch.exact_depth`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

from srs.config import DEFAULT_VHOST, Config, VhostConfig


@dataclass(frozen=True, slots=True)
class Mount:
    host: str  # "" = any host
    regex: re.Pattern[str]
    extension: str  # ".flv", ".ts", ".aac", ".mp3"
    slashes: int = 0  # "/" in the template's path


@dataclass(frozen=True, slots=True)
class MountMatch:
    vhost: VhostConfig
    app: str
    stream: str
    extension: str
    exact_depth: bool = True  # the path has the template's number of "/" (SRS hijacks only then)


@lru_cache(maxsize=256)
def compile_mount(template: str, vhost: str) -> Mount:
    t = template.replace("[vhost]", vhost)
    t = t.replace(DEFAULT_VHOST + "/", "/")
    if vhost == DEFAULT_VHOST and t.startswith(DEFAULT_VHOST):
        t = t[len(DEFAULT_VHOST) :]
    host = ""
    if not t.startswith("/"):
        host, _, rest = t.partition("/")
        t = "/" + rest
    dot = t.rfind(".")
    ext = t[dot:] if dot > t.rfind("/") else ""
    pattern = re.escape(t)
    pattern = pattern.replace(re.escape("[app]"), r"(?P<app>[^?#]+?)")
    pattern = pattern.replace(re.escape("[stream]"), r"(?P<stream>[^/?#]+?)")
    return Mount(host=host, regex=re.compile("^" + pattern + "$"), extension=ext, slashes=t.count("/"))


def _match(v: VhostConfig, host: str, path: str) -> MountMatch | None:
    if not v.enabled or not v.http_remux.enabled:
        return None
    m = compile_mount(v.http_remux.mount, v.name)
    if m.host and m.host != host:
        return None
    found = m.regex.match(path)
    if found is None:
        return None
    groups = found.groupdict()
    app = groups.get("app") or ""
    stream = groups.get("stream") or ""
    if not stream or ".." in app or ".." in stream:
        return None
    return MountMatch(
        vhost=v,
        app=app.strip("/"),
        stream=stream,
        extension=m.extension,
        exact_depth=path.count("/") == m.slashes,
    )


def match_stream(config: Config, host_header: str, path: str, query: str) -> MountMatch | None:
    """The live stream a request path designates, or ``None`` (then it is a static file)."""
    q = dict(parse_qsl(query, keep_blank_values=True))
    host = host_header
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    wanted = q.get("vhost") or q.get("domain") or host
    v = config.vhost(wanted) if wanted else None
    if v is not None and v.name != DEFAULT_VHOST:
        found = _match(v, v.name, path)
        if found is not None:
            return found
    d = config.vhost(DEFAULT_VHOST)
    if d is not None:
        return _match(d, "", path)
    return None
