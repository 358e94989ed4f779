"""API conventions (reference 3.1): auth, JSONP, 405, error codes, pagination, raw/reload, clusters,
console, headers, and bad input that must get a 4xx or a ``code`` error, never a 500."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yarl

from srs import SIGNATURE
from srs.protocol.request import Request
from srs.server.policy import Client
from support.server import DEFAULT_VHOST_BODY, render_conf

from .conftest import Running, start_app
from .test_api_shapes import set_config, wait_for


class FakeConn:
    def __init__(self, cid: str) -> None:
        self.cid = cid
        self.ip = "10.0.0.9"
        self.send_bytes = 0
        self.recv_bytes = 0
        self.kind = "rtmp-play"

    def close(self, reason: str) -> None:
        pass


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[Running, aiohttp.ClientSession]]:
    r = await start_app(tmp_path)
    http = aiohttp.ClientSession()
    try:
        yield r, http
    finally:
        await http.close()
        await r.app.stop(graceful=False)


def url(r: Running, path: str, port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or r.ports.api}{path}"


async def get_json(http: aiohttp.ClientSession, u: str, **kw: Any) -> Any:
    async with http.get(u, **kw) as resp:
        assert resp.status == 200, (u, resp.status)
        assert resp.headers["Content-Type"] == "application/json"
        return json.loads(await resp.read())


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---------------------------------------------------------------- headers and errors


async def test_headers_and_error_codes(api: tuple[Running, aiohttp.ClientSession]) -> None:
    r, http = api
    async with http.get(url(r, "/api/v1/versions")) as resp:
        assert resp.headers["Server"] == SIGNATURE
        assert resp.headers["Content-Type"] == "application/json"  # SRS: no charset parameter
        assert resp.headers["Connection"].lower() == "close"
        assert int(resp.headers["Content-Length"]) == len(await resp.read())
    assert await get_json(http, url(r, "/api/v1/vhosts/vid-nope")) == {"code": 2014}
    assert await get_json(http, url(r, "/api/v1/streams/vid-nope")) == {"code": 2048}
    assert await get_json(http, url(r, "/api/v1/clients/nope")) == {"code": 2049}
    assert await get_json(http, url(r, "/api/v1/streams/a/b/c")) == {"code": 2048}  # SRS: the rest is the id
    assert await get_json(http, url(r, "/api/v1/tests/errors")) == {"code": 100}
    async with http.get(url(r, "/api/v1/tests/redirects"), allow_redirects=False) as resp:
        assert resp.status == 301 and resp.headers["Location"] == "/api/v1/tests/errors"
    assert await get_json(http, url(r, "/api/v1/tests/redirects")) == {"code": 100}  # followed
    # lists answer with and without the trailing slash; unknown paths get the indexes
    assert (await get_json(http, url(r, "/api/v1/streams")))["streams"] == []
    assert (await get_json(http, url(r, "/api/v1/vhosts")))["vhosts"] == []
    assert "tests" in await get_json(
        http, url(r, "/api/v1/requests")
    )  # /api/v1/ index (SRS has no such route)
    assert (await get_json(http, url(r, "/api/v2/x")))["urls"] == {"v1": "the api version 1.0"}
    assert (await get_json(http, url(r, "/not/api")))["urls"]["api"] == "the api root"
    req = await get_json(http, url(r, "/api/v1/tests/requests?vhost=v.test"))
    assert req["data"]["uri"] == "http://v.test/api/v1/tests/requests" and req["data"]["METHOD"] == "GET"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/streams/"),
        ("PUT", "/api/v1/vhosts/"),
        ("DELETE", "/api/v1/streams/"),
        ("DELETE", "/api/v1/vhosts"),
        ("PATCH", "/api/v1/clients/"),
        ("POST", "/api/v1/clients"),
    ],
)
async def test_wrong_method_is_a_real_405(
    api: tuple[Running, aiohttp.ClientSession], method: str, path: str
) -> None:
    r, http = api
    async with http.request(method, url(r, path)) as resp:
        assert resp.status == 405
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await resp.text() == "Method Not Allowed"


async def test_not_found_comes_before_the_method_check(api: tuple[Running, aiohttp.ClientSession]) -> None:
    r, http = api
    async with http.delete(url(r, "/api/v1/streams/vid-nope")) as resp:
        assert resp.status == 200 and json.loads(await resp.read()) == {"code": 2048}


# ---------------------------------------------------------------- JSONP


async def test_jsonp(api: tuple[Running, aiohttp.ClientSession]) -> None:
    r, http = api
    async with http.get(url(r, "/api/v1/versions?callback=jQuery_1.2-3")) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/javascript"
        text = await resp.text()
        assert text.startswith("jQuery_1.2-3(") and text.endswith(")")
        assert json.loads(text[len("jQuery_1.2-3(") : -1])["data"]["version"] == "7.0.18"
    async with http.get(url(r, "/api/v1/streams/nope?callback=cb")) as resp:
        assert await resp.text() == 'cb({"code":2048})'
    # method emulation needs a callback; it turns a GET into what the script asks for
    async with http.get(url(r, "/api/v1/streams/?callback=cb&method=POST")) as resp:
        assert resp.status == 405
    assert "streams" in await get_json(http, url(r, "/api/v1/streams/?method=POST"))
    async with http.get(url(r, "/api/v1/tests/requests?callback=cb&method=PUT")) as resp:
        assert '"METHOD":"PUT"' in await resp.text()
    assert "data" in await get_json(http, url(r, "/api/v1/versions?callback="))  # empty: plain JSON


@pytest.mark.parametrize("callback", ["a(b", "x;alert(1)", "cb//", "<script>", "f%20g", "é", "a b"])
async def test_unsafe_jsonp_callback_is_refused(
    api: tuple[Running, aiohttp.ClientSession], callback: str
) -> None:
    r, http = api
    async with http.get(url(r, "/api/v1/versions"), params={"callback": callback}) as resp:
        assert resp.status == 400 and json.loads(await resp.read()) == {"code": 4058}
        assert callback not in await resp.text()


# ---------------------------------------------------------------- pagination


async def test_pagination(api: tuple[Running, aiohttp.ClientSession]) -> None:
    r, http = api
    for i in range(25):
        cid = f"c{(i * 37) % 101:03d}zzzz"
        r.app.stats.on_client(
            Client(FakeConn(cid), Request("__defaultVhost__", "live", f"s{i}"), "rtmp-play")
        )  # type: ignore[arg-type]

    async def ids(kind: str, query: str) -> list[str]:
        return [x["id"] for x in (await get_json(http, url(r, f"/api/v1/{kind}/?{query}")))[kind]]

    for kind in ("clients", "streams"):
        everything = await ids(kind, "count=1000")
        assert len(everything) == 25 and everything == sorted(everything)  # ordered by id
        assert await ids(kind, "") == everything[:10]  # default count 10
        assert await ids(kind, "count=3") == everything[:10]  # SRS: count is at least 10
        assert await ids(kind, "count=15") == everything[:15]
        assert await ids(kind, "start=10&count=10") + await ids(kind, "start=20&count=10") == everything[10:]
        assert await ids(kind, "start=-5") == everything[:10]
        assert await ids(kind, "start=99999999999") == []
        assert await ids(kind, "start=" + "9" * 5000) == []
        assert await ids(kind, "count=abc&start=xyz") == everything[:10]
        assert await ids(kind, "count=-1") == everything[:10]
        assert await ids(kind, "count=12abc") == everything[:12]  # atoi reads the leading number
        assert await ids(kind, "count=%2B11") == everything[:11]
        assert await ids(kind, "count=1e99") == everything[:10]
        assert await ids(kind, "count=5&count=20") == everything[:20]  # the last one wins (SRS map)


# ---------------------------------------------------------------- auth


async def test_basic_auth(api: tuple[Running, aiohttp.ClientSession]) -> None:
    r, http = api
    set_config(r, auth={"enabled": True, "username": "admin", "password": "s3cret:x"})
    for port in (r.ports.api, r.ports.http):  # any HTTP port, any path containing /api/
        u = url(r, "/api/v1/versions", port)
        async with http.get(u) as resp:
            assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Basic"
            assert await resp.read() == b"" and resp.headers["Server"] == SIGNATURE
        async with http.get(u, headers=basic("admin", "wrong")) as resp:
            assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Basic"
        async with http.get(u, headers=basic("admin", "s3cret:x")) as resp:
            assert resp.status == 200 and json.loads(await resp.read())["code"] == 0
        for bad in (
            "Basic !!!notbase64",
            "Bearer abc",
            "Basic " + base64.b64encode(b"nocolon").decode(),
            "Basic",
        ):
            async with http.get(u, headers={"Authorization": bad}) as resp:
                assert resp.status == 401 and "WWW-Authenticate" not in resp.headers
        async with http.options(u, headers={"Origin": "http://x"}) as resp:  # never authenticated
            assert resp.status == 200
    async with http.get(url(r, "/x/api/y.flv", r.ports.http)) as resp:  # SRS: "/api/" anywhere in the path
        assert resp.status == 401
    async with http.get(url(r, "/live/none.m3u8", r.ports.http)) as resp:
        assert resp.status == 404  # not an API path: no auth
    async with http.get(url(r, "/api/v1/streams/?callback=cb"), headers=basic("admin", "s3cret:x")) as resp:
        assert (await resp.text()).startswith("cb(")
    # the current config decides at each request (a reload applies at once)
    set_config(r, auth={"enabled": False})
    assert (await get_json(http, url(r, "/api/v1/versions")))["code"] == 0


# ---------------------------------------------------------------- raw and reload


async def test_raw_api_rules_and_reload(api: tuple[Running, aiohttp.ClientSession], tmp_path: Path) -> None:
    r, http = api
    raw = await get_json(http, url(r, "/api/v1/raw?rpc=raw"))  # always allowed
    assert raw == {
        "code": 0,
        "http_api": {
            "enabled": True,
            "listen": str(r.ports.api),
            "crossdomain": True,
            "raw_api": {"enabled": False, "allow_reload": False, "allow_query": False, "allow_update": False},
        },
    }
    for q in ("rpc=reload", "rpc=reload-fetch", "", "rpc=query"):
        assert await get_json(http, url(r, f"/api/v1/raw?{q}")) == {"code": 1061}
    set_config(r, raw_api={"enabled": True})
    for q in ("", "rpc=query", "rpc=update", "rpc=RELOAD"):
        assert await get_json(http, url(r, f"/api/v1/raw?{q}")) == {"code": 1060}
    assert await get_json(http, url(r, "/api/v1/raw?rpc=reload")) == {"code": 1061}  # allow_reload off
    fetch = await get_json(http, url(r, "/api/v1/raw?rpc=reload-fetch"))
    assert fetch == {"code": 0, "data": {"err": 0, "msg": "Success", "state": 0, "rid": ""}}

    # A config file with the raw API on; reload through the API; reload-fetch tells how it went.
    conf = render_conf(r.ports, vhost_body=DEFAULT_VHOST_BODY).replace(
        "./objs/nginx/html", str(tmp_path / "html")
    )
    conf = conf.replace("http_api {", "http_api {\n raw_api { enabled on; allow_reload on; }", 1)
    path = tmp_path / "reload.conf"
    path.write_text(conf.replace("vhost __defaultVhost__", "vhost added.test { }\nvhost __defaultVhost__"))
    r.app.config_path = str(path)
    set_config(r, raw_api={"enabled": True, "allow_reload": True})
    assert await get_json(http, url(r, "/api/v1/raw?rpc=reload")) == {"code": 0}

    async def finished() -> bool:
        d = (await get_json(http, url(r, "/api/v1/raw?rpc=reload-fetch")))["data"]
        return bool(d["state"] == 90)

    await wait_for(finished, what="reload")
    d = (await get_json(http, url(r, "/api/v1/raw?rpc=reload-fetch")))["data"]
    assert d["err"] == 0 and d["msg"] == "Success" and len(d["rid"]) == 7
    assert r.ctx.config.vhost("added.test") is not None  # the file was applied

    # A broken file: refused, the running config kept, the error reported.
    path.write_text(conf + "\nvhost {{{ broken\n")
    assert await get_json(http, url(r, "/api/v1/raw?rpc=reload")) == {"code": 0}

    async def failed() -> bool:
        d = (await get_json(http, url(r, "/api/v1/raw?rpc=reload-fetch")))["data"]
        return bool(d["err"] != 0)

    await wait_for(failed, what="failed reload")
    d = (await get_json(http, url(r, "/api/v1/raw?rpc=reload-fetch")))["data"]
    assert (d["err"], d["state"]) == (1023, 10) and d["msg"] and d["rid"]
    assert r.ctx.config.vhost("added.test") is not None


# ---------------------------------------------------------------- clusters, console


async def test_clusters_without_the_stream(api: tuple[Running, aiohttp.ClientSession]) -> None:
    r, http = api
    body = await get_json(
        http, url(r, "/api/v1/clusters?ip=1.2.3.4&vhost=v&app=live&stream=none&coworker=x:1")
    )
    assert body == {
        "code": 0,
        "data": {"query": {"ip": "1.2.3.4", "vhost": "v", "app": "live", "stream": "none"}, "origin": None},
    }


async def test_console_files(api: tuple[Running, aiohttp.ClientSession], tmp_path: Path) -> None:
    r, http = api
    console = tmp_path / "html" / "console"
    console.mkdir(parents=True, exist_ok=True)
    (console / "index.html").write_text("<h1>console</h1>")
    (tmp_path / "secret.txt").write_text("TOPSECRET")
    async with http.get(url(r, "/console/")) as resp:
        assert resp.status == 200 and await resp.text() == "<h1>console</h1>"
    async with http.get(url(r, "/console/nope.js")) as resp:
        assert resp.status == 404
    reader, writer = await asyncio.open_connection("127.0.0.1", r.ports.api)
    writer.write(b"GET /console/../../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert b"TOPSECRET" not in data and data.split(b" ", 2)[1] in (b"400", b"404")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/streams/?count=-1",
        "/api/v1/clients/?start=99999999999&count=99999999999999999999999",
        "/api/v1/clients/?count=abc&start=%00",
        "/api/v1/streams/?start=%ff%fe&count=%e9",
        "/api/v1/vhosts/%00%01",
        "/api/v1/clients/%2e%2e%2f",
        "/api/v1/raw?rpc=" + "r" * 4000,
        "/api/v1/clusters?vhost=%zz&app=&stream=&coworker=[::1",
        "/api/v1/versions?callback=" + "a" * 4000,
        "/api/v1/streams/?callback=cb&method=" + "D" * 100,
        "/api/v1/tests/requests?vhost=%F0%9F%98%80",
    ],
)
async def test_absurd_queries_get_an_answer_not_a_500(
    api: tuple[Running, aiohttp.ClientSession], path: str
) -> None:
    r, http = api
    async with http.get(yarl.URL(url(r, path), encoded=True), allow_redirects=False) as resp:
        body = await resp.read()
        assert resp.status < 500, (path, resp.status, body[:200])
        if resp.status == 200 and resp.headers["Content-Type"] == "application/json":
            assert isinstance(json.loads(body)["code"], int)


@pytest.mark.parametrize(
    ("method", "body", "ctype"),
    [
        ("POST", b"{not json", "application/json"),
        ("PUT", b"\xff\xfe\x00garbage", "application/octet-stream"),
        ("POST", b"[" * 10000, "application/json"),
        ("DELETE", b'{"code": "x"}', "application/json"),
        ("POST", b"x" * (2 << 20), "text/plain"),  # over the 1 MiB body limit
    ],
)
async def test_bad_bodies_get_an_answer_not_a_500(
    api: tuple[Running, aiohttp.ClientSession], method: str, body: bytes, ctype: str
) -> None:
    r, http = api
    for path in ("/api/v1/versions", "/api/v1/streams/", "/api/v1/clients/x", "/api/v1/raw?rpc=raw", "/"):
        async with http.request(method, url(r, path), data=body, headers={"Content-Type": ctype}) as resp:
            assert resp.status < 500, (method, path, resp.status)
            if resp.status == 200:
                assert isinstance(json.loads(await resp.read())["code"], int)
