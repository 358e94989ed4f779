"""HTTP server and API basics: static files (no traversal), CORS, Server header, versions/summaries."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from pathlib import Path

import aiohttp
import pytest

from srs import SIGNATURE
from srs.config import parse_text
from support.net import free_port
from support.rtmp_client import RtmpClient
from support.server import DEFAULT_VHOST_BODY

from .conftest import Running, start_app
from .test_reload import conf_for


async def raw_get(port: int, path: str) -> bytes:
    """Send a request line as-is (no client-side normalisation of ``..``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


async def test_static_files_with_mime(server: Running) -> None:
    html = server.workdir / "html"
    (html / "live").mkdir(parents=True, exist_ok=True)
    (html / "index.html").write_text("<h1>srs</h1>")
    (html / "live" / "a.m3u8").write_text("#EXTM3U\n")
    async with aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.ports.http}"
        r = await http.get(base + "/")
        assert r.status == 200 and await r.text() == "<h1>srs</h1>"
        assert r.headers["Content-Type"].startswith("text/html")
        assert r.headers["Server"] == SIGNATURE
        r = await http.get(base + "/live/a.m3u8")
        assert r.status == 200 and r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
        r = await http.get(base + "/nope.txt")
        assert r.status == 404 and r.headers["Server"] == SIGNATURE
        r = await http.get(base + "/index.html", headers={"Range": "bytes=1-3"})
        assert r.status == 206 and await r.text() == "h1>"


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc/passwd",
        "/live/../../../etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/....//....//etc/passwd",
    ],
)
async def test_no_path_traversal(server: Running, path: str) -> None:
    secret = server.workdir / "secret.txt"
    secret.write_text("TOPSECRET")
    (server.workdir / "html").mkdir(exist_ok=True)
    data = await raw_get(server.ports.http, path.replace("etc/passwd", "secret.txt"))
    assert b"TOPSECRET" not in data and b"root:" not in data
    status = int(data.split(b" ", 2)[1]) if data else 0
    assert status in (0, 400, 403, 404)


async def test_cors_only_with_origin_and_options(server: Running) -> None:
    async with aiohttp.ClientSession() as http:
        api = f"http://127.0.0.1:{server.ports.api}/api/v1/versions"
        r = await http.get(api)
        assert "Access-Control-Allow-Origin" not in r.headers
        r = await http.get(api, headers={"Origin": "http://x.com"})
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert r.headers["Access-Control-Allow-Credentials"] == "false"
        r = await http.options(api, headers={"Origin": "http://x.com"})
        assert r.status == 200 and await r.read() == b""
        flv = await http.get(
            f"http://127.0.0.1:{server.ports.http}/live/cors.flv", headers={"Origin": "http://y"}
        )
        assert flv.headers["Access-Control-Allow-Origin"] == "*"
        flv.close()


async def test_cors_disabled(tmp_path: Path) -> None:
    r = await start_app(tmp_path, extra="")
    try:
        conf = r.app.config
        cfg = dataclasses.replace(conf, http_server=dataclasses.replace(conf.http_server, crossdomain=False))
        await r.app.reload(cfg)
        async with aiohttp.ClientSession() as http:
            api = f"http://127.0.0.1:{r.ports.api}/api/v1/versions"
            resp = await http.get(api, headers={"Origin": "http://x.com"})
            assert "Access-Control-Allow-Origin" not in resp.headers
            resp = await http.options(api, headers={"Origin": "http://x.com"})
            assert resp.status == 405
    finally:
        await r.app.stop(graceful=False)


async def test_versions_and_summaries_shapes(server: Running) -> None:
    async with aiohttp.ClientSession() as http:
        for port in (server.ports.api, server.ports.http):  # versions is on both ports (SRS compat)
            r = await http.get(f"http://127.0.0.1:{port}/api/v1/versions")
            body = await r.json()
            assert r.headers["Content-Type"].startswith("application/json")
            assert body["code"] == 0 and body["data"] == {
                "major": 7,
                "minor": 0,
                "revision": 18,
                "version": "7.0.18",
            }
            assert (
                isinstance(body["server"], str)
                and isinstance(body["service"], str)
                and isinstance(body["pid"], str)
            )
        r = await http.get(f"http://127.0.0.1:{server.ports.api}/api/v1/summaries")
        body = await r.json()
        d = body["data"]
        assert d["ok"] is True and isinstance(d["now_ms"], int)
        assert set(d["self"]) == {
            "version",
            "pid",
            "ppid",
            "argv",
            "cwd",
            "mem_kbyte",
            "mem_percent",
            "cpu_percent",
            "srs_uptime",
        }
        for k in (
            "cpu_percent",
            "mem_ram_kbyte",
            "cpus",
            "load_1m",
            "ilde_time",
            "conn_srs",
            "srs_send_bytes",
        ):
            assert k in d["system"]
        r = await http.get(f"http://127.0.0.1:{server.ports.api}/api/")
        assert (await r.json())["urls"] == {"v1": "the api version 1.0"}


async def test_api_shared_with_http_server_port(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        conf = r.app.config
        cfg = dataclasses.replace(
            conf, http_api=dataclasses.replace(conf.http_api, listen=conf.http_server.listen)
        )
        assert (await r.app.reload(cfg)).ok
        assert r.app.http_api is None  # one listener serves both
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"http://127.0.0.1:{r.ports.http}/api/v1/summaries")
            assert (await resp.json())["code"] == 0
            resp = await http.get(f"http://127.0.0.1:{r.ports.http}/live/shared.flv")
            assert resp.headers["Content-Type"] == "video/x-flv"
            resp.close()
    finally:
        await r.app.stop(graceful=False)


async def test_non_matching_paths_fall_through_to_static(tmp_path: Path) -> None:
    body = DEFAULT_VHOST_BODY.replace("[vhost]/[app]/[stream].flv", "[vhost]/live/[stream].flv")
    r = await start_app(tmp_path, vhost_body=body)
    try:
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"http://127.0.0.1:{r.ports.http}/other/x.flv")
            assert resp.status == 404
            resp = await http.get(f"http://127.0.0.1:{r.ports.http}/live/x.flv")
            assert resp.status == 200 and resp.headers["Content-Type"] == "video/x-flv"
            resp.close()
    finally:
        await r.app.stop(graceful=False)


async def test_ipv6_listen(tmp_path: Path) -> None:
    assert socket.has_ipv6, "the CI machine must support IPv6 on loopback"
    port6 = free_port(socket.AF_INET6)
    r = await start_app(tmp_path)
    try:
        cfg = parse_text(conf_for(r, rtmp=f"{r.ports.rtmp} [::1]:{port6}"))
        assert (await r.app.reload(cfg)).ok
        c = await RtmpClient.open(port6, host="::1")
        await c.publish("v6")
        assert r.ctx.registry.find("/live/v6") is not None
        await c.close()
    finally:
        await r.app.stop(graceful=False)
