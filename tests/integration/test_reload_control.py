"""Reload of the control plane (SIGHUP / ``raw?rpc=reload`` both end in ``App.reload``):
the exporter and HTTPS listeners start, move and stop; a renewed certificate applies; security
rules, hook URLs, refer and auth apply to the next client; existing connections keep going."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from srs.app import App
from srs.config import parse_text
from support.net import free_ports
from support.rtmp_client import RtmpClient
from support.server import DEFAULT_VHOST_BODY, Ports, render_conf
from support.tls import fingerprint, self_signed

from .conftest import Running, start_app
from .test_https import presented_cert
from .test_metrics import Publisher, scrape
from .test_reload import conf_for


def with_https(text: str, r: Running, cert: Path, key: Path, *, https: int | None, apis: int | None) -> str:
    """``text`` (rendered by ``conf_for``) with ``https {}`` blocks in http_server / http_api."""

    def block(port: int) -> str:
        return f"    https {{ enabled on; listen {port}; key {key}; cert {cert}; }}\n"

    if apis is not None:
        old = f"    listen          {r.ports.api};\n"
        text = text.replace(old, old + block(apis))
    if https is not None:
        old = f"    listen          {r.ports.http};\n"
        text = text.replace(old, old + block(https))
    return text


async def refused(port: int) -> bool:
    try:
        _, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
    except OSError:
        return True
    w.close()
    return False


async def metrics_code(http: aiohttp.ClientSession, port: int) -> object:
    r = await http.get(f"http://127.0.0.1:{port}/metrics")
    if r.headers["Content-Type"].startswith("application/json"):
        return (await r.json())["code"]
    return "text"


async def test_exporter_starts_moves_and_stops(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    e1, e2 = free_ports(2)
    try:
        async with aiohttp.ClientSession() as http:
            assert await metrics_code(http, r.ports.api) == 1090
            res = await r.app.reload(
                parse_text(conf_for(r, extra=f"exporter {{ enabled on; listen {e1}; }}"))
            )
            assert res.ok and f"exporter +{e1}" in res.changes
            assert "srs_build_info" in await scrape(http, e1)
            assert await metrics_code(http, r.ports.api) == "text"  # the API port follows at once

            res = await r.app.reload(
                parse_text(conf_for(r, extra=f"exporter {{ enabled on; listen {e2}; }}"))
            )
            assert res.ok and f"exporter -{e1}" in res.changes and f"exporter +{e2}" in res.changes
            assert "srs_build_info" in await scrape(http, e2)
            assert await refused(e1)

            # label/tag only: the listener stays, the next scrape shows the new label.
            res = await r.app.reload(
                parse_text(conf_for(r, extra=f"exporter {{ enabled on; listen {e2}; label blue; }}"))
            )
            assert res.ok and not [c for c in res.changes if c.startswith("exporter")]
            (build,) = (await scrape(http, e2))["srs_build_info"].samples
            assert build.labels["label"] == "blue"

            res = await r.app.reload(parse_text(conf_for(r)))
            assert res.ok and f"exporter -{e2}" in res.changes
            assert await refused(e2)
            assert r.app.exporter is None
            assert await metrics_code(http, r.ports.api) == 1090
    finally:
        await r.app.stop(graceful=False)


async def test_https_listeners_added_moved_removed_connections_kept(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls")
    r = await start_app(tmp_path)
    s1, s2, a1 = free_ports(3)
    pub = await Publisher.start(r.ports.rtmp, "live1")
    try:
        assert r.app.https_server is None and r.app.https_api is None
        res = await r.app.reload(parse_text(with_https(conf_for(r), r, cert, key, https=s1, apis=a1)))
        assert res.ok and f"https_server +{s1}" in res.changes and f"https_api +{a1}" in res.changes
        assert await presented_cert(a1) == fingerprint(cert)
        async with aiohttp.ClientSession() as http:
            flv = await http.get(f"https://127.0.0.1:{s1}/live/live1.flv", ssl=False)
            assert flv.status == 200 and (await flv.content.readexactly(3)) == b"FLV"

            # Move the HTTPS server port: the new one serves, the old one refuses new clients,
            # and the HTTPS-FLV player accepted on the old port keeps streaming.
            res = await r.app.reload(parse_text(with_https(conf_for(r), r, cert, key, https=s2, apis=a1)))
            assert res.ok and f"https_server -{s1}" in res.changes and f"https_server +{s2}" in res.changes
            assert not [c for c in res.changes if c.startswith("https_api")]  # unchanged: kept
            assert await refused(s1)
            got = 0
            while got < 200_000:
                chunk = await asyncio.wait_for(flv.content.read(65536), 5)
                assert chunk, "the HTTPS-FLV player was cut by the reload"
                got += len(chunk)
            v = await http.get(f"https://127.0.0.1:{s2}/api/v1/versions", ssl=False)
            assert (await v.json())["code"] == 0

            # Remove both HTTPS listeners.
            res = await r.app.reload(parse_text(conf_for(r)))
            assert res.ok and f"https_server -{s2}" in res.changes and f"https_api -{a1}" in res.changes
            assert await refused(s2) and await refused(a1)
            chunk = await asyncio.wait_for(flv.content.read(65536), 5)
            assert chunk  # still streaming
            flv.close()
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_reload_refuses_missing_cert_and_keeps_running(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls")
    r = await start_app(tmp_path)
    (a1,) = free_ports(1)
    try:
        good = with_https(conf_for(r), r, cert, key, https=None, apis=a1)
        assert (await r.app.reload(parse_text(good))).ok
        bad = with_https(conf_for(r), r, tmp_path / "gone.crt", key, https=None, apis=a1)
        res = await r.app.reload(parse_text(bad))
        assert not res.ok and "http_api.https.cert" in res.message and "gone.crt" in res.message
        assert r.app.config.http_api.https.cert == str(cert)  # the running config is kept
        assert await presented_cert(a1) == fingerprint(cert)
    finally:
        await r.app.stop(graceful=False)


async def test_reload_renews_the_certificate_in_place(tmp_path: Path) -> None:
    old_cert, old_key = self_signed(tmp_path / "a")
    new_cert, new_key = self_signed(tmp_path / "b")
    live_cert, live_key = tmp_path / "live.crt", tmp_path / "live.key"
    live_cert.write_bytes(old_cert.read_bytes())
    live_key.write_bytes(old_key.read_bytes())
    r = await start_app(tmp_path)
    (a1,) = free_ports(1)
    try:
        text = with_https(conf_for(r), r, live_cert, live_key, https=None, apis=a1)
        assert (await r.app.reload(parse_text(text))).ok
        assert await presented_cert(a1) == fingerprint(old_cert)
        # Same paths, new files (certbot renewal), then SIGHUP: same listener, new certificate.
        live_cert.write_bytes(new_cert.read_bytes())
        live_key.write_bytes(new_key.read_bytes())
        listener = r.app.https_api
        res = await r.app.reload(parse_text(text))
        assert res.ok and r.app.https_api is listener
        assert await presented_cert(a1) == fingerprint(new_cert)
    finally:
        await r.app.stop(graceful=False)


async def test_security_rules_apply_to_new_clients(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    pub = await Publisher.start(r.ports.rtmp, "sec")
    player = await RtmpClient.open(r.ports.rtmp)
    try:
        await player.play("sec")
        await player.wait_media(5)
        body = (
            DEFAULT_VHOST_BODY + "\n    security { enabled on; deny play 127.0.0.0/8; allow publish all; }\n"
        )
        assert (await r.app.reload(parse_text(conf_for(r, vhost_body=body)))).ok
        late = await RtmpClient.open(r.ports.rtmp)
        with pytest.raises((ConnectionError, TimeoutError)):
            await late.play("sec")
        await late.close()
        n = len(player.media)
        await player.wait_media(n + 10, timeout_s=5)
        assert len(player.media) >= n + 10 and not player.closed.is_set()  # the old player goes on
        # Rules removed again: a new player is admitted.
        assert (await r.app.reload(parse_text(conf_for(r)))).ok
        again = await RtmpClient.open(r.ports.rtmp)
        await again.play("sec")
        await again.close()
    finally:
        await player.close()
        await pub.close()
        await r.app.stop(graceful=False)


@contextlib.asynccontextmanager
async def hook_receiver(answer: str) -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    calls: list[dict[str, object]] = []

    async def hook(request: web.Request) -> web.Response:
        calls.append(json.loads(await request.read()))
        return web.Response(text=answer)

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    (port,) = free_ports(1)
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/api/v1", calls
    finally:
        await runner.cleanup()


async def test_hook_urls_apply_after_reload(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        async with hook_receiver('{"code":1}') as (url, calls):
            body = DEFAULT_VHOST_BODY + f"\n    http_hooks {{ enabled on; on_publish {url}/streams; }}\n"
            assert (await r.app.reload(parse_text(conf_for(r, vhost_body=body)))).ok
            c = await RtmpClient.open(r.ports.rtmp)
            with pytest.raises((ConnectionError, TimeoutError)):
                await c.publish("hooked")
            await c.close()
            assert [x["action"] for x in calls] == ["on_publish"]
            assert calls[0]["stream"] == "hooked"
            assert (
                r.ctx.registry.find("/live/hooked") is None
                or r.ctx.registry.find("/live/hooked").publisher is None
            )
            # Hooks off again: the next publish goes through without a call.
            assert (await r.app.reload(parse_text(conf_for(r)))).ok
            c = await RtmpClient.open(r.ports.rtmp)
            await c.publish("hooked")
            await c.close()
            assert len(calls) == 1
    finally:
        await r.app.stop(graceful=False)


async def test_refer_applies_after_reload(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    pub = await Publisher.start(r.ports.rtmp, "ref")
    try:
        body = DEFAULT_VHOST_BODY + "\n    refer { enabled on; play github.com; }\n"
        assert (await r.app.reload(parse_text(conf_for(r, vhost_body=body)))).ok
        p = await RtmpClient.open(r.ports.rtmp)  # our client sends no pageUrl: not github.com
        # SRS checks refer.play after Play.Start is sent, then closes the connection.
        with contextlib.suppress(ConnectionError):
            await p.play("ref")
        await asyncio.wait_for(p.closed.wait(), 5)
        assert not p.media
        await p.close()
    finally:
        await pub.close()
        await r.app.stop(graceful=False)


async def test_auth_applies_after_reload(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        url = f"http://127.0.0.1:{r.ports.api}/api/v1/versions"
        async with aiohttp.ClientSession() as http:
            assert (await http.get(url)).status == 200
            text = conf_for(r).replace(
                f"    listen          {r.ports.api};\n",
                f"    listen          {r.ports.api};\n    auth {{ enabled on; username admin; password s3cret; }}\n",
            )
            assert (await r.app.reload(parse_text(text))).ok
            resp = await http.get(url)
            assert resp.status == 401 and "Basic" in resp.headers.get("WWW-Authenticate", "")
            token = base64.b64encode(b"admin:s3cret").decode()
            resp = await http.get(url, headers={"Authorization": f"Basic {token}"})
            assert resp.status == 200 and (await resp.json())["code"] == 0
    finally:
        await r.app.stop(graceful=False)


async def test_raw_api_reload_reads_the_file_and_starts_the_exporter(tmp_path: Path) -> None:
    """``/api/v1/raw?rpc=reload`` re-reads the config file, like SIGHUP."""
    ports = Ports()
    (eport,) = free_ports(1)
    raw = "raw_api { enabled on; allow_reload on; }\n"

    def text(extra: str) -> str:
        t = render_conf(ports, extra=extra).replace("./objs/nginx/html", str(tmp_path / "html"))
        return t.replace(
            f"    listen          {ports.api};\n", f"    listen          {ports.api};\n    {raw}"
        )

    path = tmp_path / "srs.conf"
    path.write_text(text(""))
    app = App(parse_text(path.read_text()), config_path=str(path))
    await app.start()
    try:
        path.write_text(text(f"exporter {{ enabled on; listen {eport}; }}"))
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"http://127.0.0.1:{ports.api}/api/v1/raw?rpc=reload")
            assert (await resp.json(content_type=None))["code"] == 0
            for _ in range(50):
                if app.exporter is not None:
                    break
                await asyncio.sleep(0.05)
            assert "srs_build_info" in await scrape(http, eport)
    finally:
        await app.stop(graceful=False)
