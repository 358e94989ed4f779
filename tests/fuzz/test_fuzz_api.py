"""Fuzz the API's query/JSONP handling: the pure helpers against reference models, and a live server
(publisher and player connected) against random paths, queries, callbacks, methods and bodies sent as
raw HTTP. Invariants: never a 5xx, JSON answers parse and carry an integer ``code``, JSONP answers
start with the callback, and nothing is logged with a traceback."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.conftest import Running, start_app
from integration.test_api_shapes import set_config
from srs.control.api_base import INT_MAX, ApiError, api_method, callback_of, query_int
from support.media import clip
from support.rtmp_client import RtmpClient, flv_tags

SAFE_CALLBACK = re.compile(r"[A-Za-z0-9._\-]*")


# ---------------------------------------------------------------- pure helpers


def c_atoi_clamped(text: str) -> int:
    """Reference model: C atoi (leading blanks, sign, digits) clamped to a 32-bit int."""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    value = 0
    while i < n and "0" <= text[i] <= "9":
        value = min(value * 10 + ord(text[i]) - 48, INT_MAX)
        i += 1
    return sign * value


NUMBERISH = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[ \t]*[+-]?[0-9]{0,30}[a-z.e]{0,3}", fullmatch=True),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.just("9" * 5000),
)


@settings(max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "400")), deadline=None)
@given(NUMBERISH)
def test_query_int_is_c_atoi_clamped(text: str) -> None:
    assert query_int(text) == c_atoi_clamped(text)


CALLBACKS = st.one_of(st.text(max_size=30), st.from_regex(r"[A-Za-z0-9._\-]{0,30}", fullmatch=True))


@settings(max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")), deadline=None)
@given(
    callback=CALLBACKS,
    method=st.one_of(st.sampled_from(["GET", "PUT", "POST", "DELETE", "get"]), st.text(max_size=8)),
)
def test_callback_and_method_emulation(callback: str, method: str) -> None:
    req = make_mocked_request("GET", "/api/v1/x?" + _encode([("callback", callback), ("method", method)]))
    if SAFE_CALLBACK.fullmatch(callback):
        assert callback_of(req) == callback
    else:
        with pytest.raises(ApiError) as e:
            callback_of(req)
        assert e.value.code == 4058
    emulated = callback != "" and method in ("GET", "PUT", "POST", "DELETE")
    assert api_method(req) == (method if emulated else "GET")


def _encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


# ---------------------------------------------------------------- a live server in a thread


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.bad: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info or "Traceback" in text:
            self.bad.append(f"{record.name}: {text}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Recorder]]:
    loop = asyncio.new_event_loop()
    box: dict[str, Any] = {}
    ready = threading.Event()

    async def boot() -> None:
        r = await start_app(tmp_path_factory.mktemp("fuzz-api"))
        set_config(r, raw_api={"enabled": True})
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("livestream")
        await pub.send_tags(flv_tags(clip("avatar.flv"))[:60])
        player = await RtmpClient.open(r.ports.rtmp)
        await player.play("livestream")
        box.update(r=r, clients=[pub, player])

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot())
        finally:
            ready.set()
        loop.run_forever()

    recorder = Recorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    thread = threading.Thread(target=run, name="fuzz-api-server", daemon=True)
    thread.start()
    assert ready.wait(30) and "r" in box, "server did not start"
    try:
        yield box["r"], recorder
    finally:

        async def shutdown() -> None:
            for c in box["clients"]:
                c.writer.close()
            await box["r"].app.stop(graceful=False)
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        root.removeHandler(recorder)


def raw_request(
    port: int, method: str, target: str, body: bytes, headers: list[tuple[str, str]]
) -> tuple[int, dict[str, str], bytes]:
    head = [
        f"{method} {target} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        f"Content-Length: {len(body)}",
    ]
    head += [f"{k}: {v}" for k, v in headers]
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        return 0, {}, b""  # the server may drop a request it cannot parse
    header_blob, _, payload = raw.partition(b"\r\n\r\n")
    lines = header_blob.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, payload


API_PATHS = [
    "/",
    "/api/",
    "/api/v1/",
    "/api/v1/versions",
    "/api/v1/summaries",
    "/api/v1/rusages",
    "/api/v1/self_proc_stats",
    "/api/v1/system_proc_stats",
    "/api/v1/meminfos",
    "/api/v1/authors",
    "/api/v1/features",
    "/api/v1/vhosts/",
    "/api/v1/streams/",
    "/api/v1/clients/",
    "/api/v1/raw",
    "/api/v1/clusters",
    "/api/v1/tests/requests",
    "/api/v1/tests/errors",
    "/api/v1/tests/redirects",
    "/console/",
]
KEYS = ["callback", "method", "start", "count", "rpc", "vhost", "app", "stream", "ip", "coworker", "domain"]
VALUES = st.one_of(
    st.text(max_size=20),
    NUMBERISH,
    st.sampled_from(
        ["GET", "PUT", "POST", "DELETE", "raw", "reload-fetch", "reload", "cb", "a.b-c_d", "__defaultVhost__"]
    ),
)
PATHS = st.one_of(
    st.sampled_from(API_PATHS),
    st.tuples(st.sampled_from(API_PATHS), st.text(max_size=20)).map(lambda t: t[0] + t[1]),
)


@settings(
    max_examples=int(os.environ.get("SRS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    path=PATHS,
    params=st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), VALUES), max_size=5),
    raw_query=st.one_of(st.none(), st.text(alphabet="%&=?;+#/aZ09", max_size=20)),
    body=st.one_of(st.just(b""), st.binary(max_size=300), st.just(b'{"code": "x", '), st.just(b"[" * 2000)),
    # well-formed header values (printable ASCII): malformed HTTP is the HTTP parser's business
    auth=st.one_of(
        st.none(),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
        st.binary(max_size=24).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    ),
)
def test_api_never_fails(
    live: tuple[Running, Recorder],
    method: str,
    path: str,
    params: list[tuple[str, str]],
    raw_query: str | None,
    body: bytes,
    auth: str | None,
) -> None:
    r, recorder = live
    target = quote(path, safe="/%")
    query = raw_query if raw_query is not None else _encode(params)
    if query:
        target += "?" + query
    headers = [("Authorization", auth.strip())] if auth and auth.strip() else []
    status, hdrs, payload = raw_request(r.ports.api, method, target, body, headers)
    assert status < 500, (method, target, status, payload[:300])
    ctype = hdrs.get("content-type", "")
    if status == 200 and method != "HEAD" and ctype == "application/json":
        answer = json.loads(payload)
        assert isinstance(answer, dict) and isinstance(answer.get("code"), int)
    if status == 200 and method != "HEAD" and ctype == "text/javascript":
        name = payload.split(b"(", 1)[0].decode()
        assert SAFE_CALLBACK.fullmatch(name) and name and payload.endswith(b")")
        assert isinstance(json.loads(payload[len(name) + 1 : -1])["code"], int)
    assert not recorder.bad, recorder.bad
