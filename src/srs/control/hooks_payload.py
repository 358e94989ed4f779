"""HTTP callback bodies and SRS's success rule (reference 4.1/4.2), without any I/O.

Field names and their order are SRS 7's (``SrsHttpHooks::on_*`` in ``srs_app_http_hooks.cpp``): a
hook server written for SRS reads the same JSON from us. ``client_id`` is the connection id, the
one ``/api/v1/clients`` shows; ``stream_id`` is added only when the stream is known to statistics.
"""

from __future__ import annotations

import json
from typing import Any

from srs.protocol.request import Request

Payload = dict[str, Any]

# SRS compat: only these statuses count as an answer (``SRS_CONSTS_HTTP_OK``/``_Created``).
OK_STATUSES = (200, 201)
# A hook body bigger than this is a failure: SRS reads everything, we refuse to buffer without bound.
MAX_RESPONSE_BYTES = 1 << 20

HTTP_PLAY_KINDS = frozenset({"flv-play", "hls-play"})


def hook_tc_url(kind: str, req: Request) -> str:
    """The ``tcUrl`` SRS reports for a client.

    SRS compat: HTTP players have no tcUrl; SRS builds one as ``rtmp://<vhost>/<app>`` from the
    resolved vhost (``SrsHttpMessage::to_request``), so hook servers see the same shape for every
    protocol.
    """
    if kind in HTTP_PLAY_KINDS:
        return f"rtmp://{req.vhost}/{req.app}"
    return req.tc_url


def _head(server_id: str, service_id: str, action: str, client_id: str, req: Request) -> Payload:
    return {
        "server_id": server_id,
        "service_id": service_id,
        "action": action,
        "client_id": client_id,
        "ip": req.ip,
        "vhost": req.vhost,
        "app": req.app,
    }


def _tail(p: Payload, req: Request, stream_id: str | None) -> Payload:
    p["stream_url"] = req.stream_url
    if stream_id:
        p["stream_id"] = stream_id
    return p


def connect_payload(server_id: str, service_id: str, client_id: str, req: Request, tc_url: str) -> Payload:
    p = _head(server_id, service_id, "on_connect", client_id, req)
    p["stream"] = req.stream
    p["param"] = req.param
    p["tcUrl"] = tc_url
    p["pageUrl"] = req.page_url
    return p


def close_payload(
    server_id: str, service_id: str, client_id: str, req: Request, send_bytes: int, recv_bytes: int
) -> Payload:
    p = _head(server_id, service_id, "on_close", client_id, req)
    p["send_bytes"] = int(send_bytes)
    p["recv_bytes"] = int(recv_bytes)
    return p


def publish_payload(
    server_id: str,
    service_id: str,
    action: str,
    client_id: str,
    req: Request,
    tc_url: str,
    stream_id: str | None,
) -> Payload:
    """``on_publish``, ``on_unpublish`` and ``on_stop`` share this shape."""
    p = _head(server_id, service_id, action, client_id, req)
    p["tcUrl"] = tc_url
    p["stream"] = req.stream
    p["param"] = req.param
    return _tail(p, req, stream_id)


def play_payload(
    server_id: str, service_id: str, client_id: str, req: Request, tc_url: str, stream_id: str | None
) -> Payload:
    p = _head(server_id, service_id, "on_play", client_id, req)
    p["stream"] = req.stream
    p["tcUrl"] = tc_url
    p["param"] = req.param
    p["pageUrl"] = req.page_url
    return _tail(p, req, stream_id)


def dvr_payload(
    server_id: str,
    service_id: str,
    client_id: str,
    req: Request,
    cwd: str,
    file: str,
    stream_id: str | None,
) -> Payload:
    p = _head(server_id, service_id, "on_dvr", client_id, req)
    p["tcUrl"] = req.tc_url
    p["stream"] = req.stream
    p["param"] = req.param
    p["cwd"] = cwd
    p["file"] = file
    return _tail(p, req, stream_id)


def hls_segment_url(ts_url: str, m3u8_url: str) -> str:
    """SRS: a relative segment URL is reported under the directory of the playlist URL."""
    slash = m3u8_url.rfind("/")
    prefix = m3u8_url[:slash] if slash > 0 else ""
    if prefix and not is_http_url(ts_url):
        return f"{prefix}/{ts_url}"
    return ts_url


def hls_payload(
    server_id: str,
    service_id: str,
    client_id: str,
    req: Request,
    *,
    duration_s: float,
    cwd: str,
    file: str,
    ts_url: str,
    m3u8: str,
    m3u8_url: str,
    seq_no: int,
    stream_id: str | None,
) -> Payload:
    p = _head(server_id, service_id, "on_hls", client_id, req)
    p["tcUrl"] = req.tc_url
    p["stream"] = req.stream
    p["param"] = req.param
    p["duration"] = round(float(duration_s), 3)  # seconds, millisecond precision as SRS
    p["cwd"] = cwd
    p["file"] = file
    p["url"] = hls_segment_url(ts_url, m3u8_url)
    p["m3u8"] = m3u8
    p["m3u8_url"] = m3u8_url
    p["seq_no"] = int(seq_no)
    return _tail(p, req, stream_id)


def is_http_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def hls_notify_url(template: str, server_id: str, service_id: str, req: Request, ts_url: str) -> str:
    """The GET URL of ``on_hls_notify``: an absolute segment URL replaces the template, then the
    ``[server_id] [service_id] [app] [stream] [ts_url] [param]`` variables are substituted."""
    url = ts_url if is_http_url(ts_url) else template
    for key, value in (
        ("[server_id]", server_id),
        ("[service_id]", service_id),
        ("[app]", req.app),
        ("[stream]", req.stream),
        ("[ts_url]", ts_url),
        ("[param]", req.param),
    ):
        url = url.replace(key, value)
    return url


def encode(payload: Payload) -> bytes:
    """Compact JSON, UTF-8 (SRS's ``SrsJsonObject::dumps`` has no spaces either)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def judge(status: int, body: bytes) -> str | None:
    """SRS's success rule for a hook answer: ``None`` when accepted, else why not.

    Accepted only with status 200/201 and a non-empty body that is exactly ``0`` or a JSON object
    whose ``code`` is the integer 0 (``SrsHttpHooks::do_post``): ``"0\\n"``, ``{"code":"0"}``,
    ``{"code":0.0}``, ``{}``, ``[0]`` and non-JSON bodies are all failures.
    """
    if status not in OK_STATUSES:
        return f"status {status}"
    if not body:
        return "empty response"
    try:
        text = body.decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return f"not json: {body[:64]!r}"
    if not isinstance(value, dict):
        return None if text == "0" else f"response is not 0: {body[:64]!r}"
    code = value.get("code")
    if type(code) is not int:  # bool is an int subclass: true is not a code
        return f"response object has no integer code: {body[:64]!r}"
    if code != 0:
        return f"response code {code}"
    return None
