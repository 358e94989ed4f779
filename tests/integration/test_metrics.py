"""The Prometheus exporter on a running server: SRS's families, values that agree with the API,
per-stream series bounded by ``max_streams``, ``{"code":1090}`` when disabled, the exporter port
serving the API mux."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil

from srs.app import App
from srs.config import parse_text
from srs.format import flv
from support import prom
from support.media import clip
from support.net import free_ports
from support.rtmp_client import RtmpClient, flv_tags
from support.server import Ports, render_conf

from .conftest import Running, start_app

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]

SRS_FAMILIES = [
    ("srs_node_uname_info", "gauge"),
    ("srs_build_info", "gauge"),
    ("srs_cpu_percent", "gauge"),
    ("srs_memory", "gauge"),
    ("srs_send_bytes_total", "counter"),
    ("srs_receive_bytes_total", "counter"),
    ("srs_streams", "gauge"),
    ("srs_clients", "gauge"),
    ("srs_clients_total", "counter"),
    ("srs_clients_errs_total", "counter"),
]


def exporter_block(port: int, body: str = "") -> str:
    return f"exporter {{\n    enabled on;\n    listen {port};\n    {body}\n}}\n"


async def scrape(http: aiohttp.ClientSession, port: int) -> dict[str, prom.Family]:
    r = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return prom.parse(await r.text())


async def get_json(http: aiohttp.ClientSession, url: str) -> dict[str, object]:
    r = await http.get(url)
    assert r.status == 200, url
    body: dict[str, object] = await r.json(content_type=None)
    return body


class Publisher:
    """An RTMP publisher streaming bbb.flv in real time (x4) until closed."""

    def __init__(self, client: RtmpClient, task: asyncio.Task[None]) -> None:
        self.client = client
        self.task = task

    @classmethod
    async def start(cls, port: int, stream: str) -> Publisher:
        c = await RtmpClient.open(port)
        await c.publish(stream)
        task = asyncio.get_running_loop().create_task(c.send_tags(AV, realtime=True, speed=4))
        return cls(c, task)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        await self.client.close()


@contextlib.asynccontextmanager
async def flv_player(http: aiohttp.ClientSession, url: str) -> AsyncIterator[aiohttp.ClientResponse]:
    r = await http.get(url)
    assert r.status == 200 and r.headers["Content-Type"] == "video/x-flv"
    assert (await r.content.readexactly(3)) == b"FLV"
    try:
        yield r
    finally:
        r.close()


async def test_disabled_exporter_answers_1090(server: Running) -> None:
    async with aiohttp.ClientSession() as http:
        r = await http.get(f"http://127.0.0.1:{server.ports.api}/metrics")
        assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
        assert await r.json() == {"code": 1090}
        # The HTTP server port (API not shared) has no /metrics, as SRS.
        r = await http.get(f"http://127.0.0.1:{server.ports.http}/metrics")
        assert r.status == 404
    assert server.app.exporter is None


async def test_families_and_values_agree_with_the_api(tmp_path: Path) -> None:
    (eport,) = free_ports(1)
    r = await start_app(tmp_path, extra=exporter_block(eport, "label cn-east-1;\n    tag canary;"))
    pub = None
    try:
        async with aiohttp.ClientSession() as http:
            pub = await Publisher.start(r.ports.rtmp, "metrics")
            player = await RtmpClient.open(r.ports.rtmp)
            await player.play("metrics")
            await player.wait_media(10)
            async with flv_player(http, r.flv_url("metrics")):
                # Bytes reach the totals at the stats sample (every second): wait for a few.
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 6
                while True:
                    on_exporter = await scrape(http, eport)
                    sent = on_exporter["srs_send_bytes_total"].value()
                    received = on_exporter["srs_receive_bytes_total"].value()
                    if min(sent, received) > 100_000 or loop.time() > deadline:
                        break
                    await asyncio.sleep(0.2)
                api = f"http://127.0.0.1:{r.ports.api}"
                on_api = await scrape(http, r.ports.api)
                summaries = await get_json(http, api + "/api/v1/summaries")
                streams = await get_json(http, api + "/api/v1/streams/?count=100")
                clients = await get_json(http, api + "/api/v1/clients/?count=100")
            await player.close()
        for fams in (on_exporter, on_api):
            assert [(f.name, f.type) for f in fams.values()] == SRS_FAMILIES
        fams = on_exporter
        (build,) = fams["srs_build_info"].samples
        assert build.value == 1
        assert build.labels["server"] == summaries["server"]
        assert build.labels["service"] == summaries["service"]
        assert build.labels["pid"] == summaries["pid"]
        assert (build.labels["major"], build.labels["version"], build.labels["code"]) == (
            "7",
            "7.0.18",
            "Hang",
        )
        assert (build.labels["label"], build.labels["tag"]) == ("cn-east-1", "canary")
        (uname,) = fams["srs_node_uname_info"].samples
        assert set(uname.labels) == {"sysname", "nodename", "release", "version", "machine"}
        assert isinstance(streams["streams"], list) and isinstance(clients["clients"], list)
        assert fams["srs_streams"].value() == len(streams["streams"]) == 1
        assert fams["srs_clients"].value() == len(clients["clients"]) == 3  # publisher + 2 players
        assert fams["srs_clients_total"].value() >= 3
        assert fams["srs_clients_errs_total"].value() == 0
        assert fams["srs_receive_bytes_total"].value() > 100_000  # bbb.flv at 4x for > 1 s
        assert fams["srs_send_bytes_total"].value() > 100_000
        rss_kib = psutil.Process().memory_info().rss / 1024
        assert 0.5 * rss_kib < fams["srs_memory"].value() < 2 * rss_kib
        assert fams["srs_cpu_percent"].value() >= 0
    finally:
        if pub is not None:
            await pub.close()
        await r.app.stop(graceful=False)


async def test_per_stream_series_bounded_by_max_streams(tmp_path: Path) -> None:
    (eport,) = free_ports(1)
    r = await start_app(tmp_path, extra=exporter_block(eport, "stream_metrics on;\n    max_streams 2;"))
    pubs: list[Publisher] = []
    players: list[RtmpClient] = []
    try:
        for name in ("one", "two", "three"):
            pubs.append(await Publisher.start(r.ports.rtmp, name))
        for name, n in (("one", 2), ("two", 1)):
            for _ in range(n):
                p = await RtmpClient.open(r.ports.rtmp)
                await p.play(name)
                await p.wait_media(5)
                players.append(p)
        async with aiohttp.ClientSession() as http:
            # kbps needs two stats samples (one a second) after the stream appeared.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 6
            while True:
                fams = await scrape(http, eport)
                kbps = fams["srs_stream_receive_kbps"].samples
                if (len(kbps) == 2 and all(s.value > 0 for s in kbps)) or loop.time() > deadline:
                    break
                await asyncio.sleep(0.2)
        # SRS's families first, unchanged, then ours.
        assert [(f.name, f.type) for f in fams.values()][: len(SRS_FAMILIES)] == SRS_FAMILIES
        assert fams["srs_streams"].value() == 3
        labels = [s.labels for s in fams["srs_stream_players"].samples]
        assert labels == [
            {"vhost": "__defaultVhost__", "app": "live", "stream": "one"},
            {"vhost": "__defaultVhost__", "app": "live", "stream": "two"},
        ]
        assert fams["srs_stream_players"].value(stream="one") == 2
        assert fams["srs_stream_players"].value(stream="two") == 1
        assert fams["srs_exporter_streams_omitted"].value() == 1
        for name in ("one", "two"):
            assert fams["srs_stream_publishing"].value(stream=name) == 1
            assert fams["srs_stream_receive_bytes_total"].value(stream=name) > 50_000
            assert fams["srs_stream_send_bytes_total"].value(stream=name) > 50_000
            assert fams["srs_stream_receive_kbps"].value(stream=name) > 0
            assert fams["srs_stream_dropped_messages_total"].value(stream=name) == 0
        # A stream's bytes sent are its players' bytes: "one" has twice the players of "two".
        one = fams["srs_stream_send_bytes_total"].value(stream="one")
        two = fams["srs_stream_send_bytes_total"].value(stream="two")
        assert one > 1.3 * two
    finally:
        for p in players:
            await p.close()
        for pub in pubs:
            await pub.close()
        await r.app.stop(graceful=False)


async def test_exporter_port_serves_the_api_mux(tmp_path: Path) -> None:
    (eport,) = free_ports(1)
    r = await start_app(tmp_path, extra=exporter_block(eport))
    try:
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{eport}"
            versions = await get_json(http, base + "/api/v1/versions")
            assert versions["code"] == 0 and versions["data"]["version"] == "7.0.18"  # type: ignore[index]
            root = await get_json(http, base + "/")
            assert root["code"] == 0 and "urls" in root
            fams = await scrape(http, eport)
            assert "srs_build_info" in fams
    finally:
        await r.app.stop(graceful=False)


async def test_metrics_on_a_shared_http_port(tmp_path: Path) -> None:
    """API shared with the HTTP server (same listen): /metrics is served on that one port."""
    ports = Ports()
    (eport,) = free_ports(1)
    conf = render_conf(ports, extra=exporter_block(eport))
    conf = conf.replace(f"listen          {ports.api};", f"listen          {ports.http};")
    app = App(parse_text(conf.replace("./objs/nginx/html", str(tmp_path / "html"))))
    await app.start()
    try:
        assert app.http_api is None and app.http_server is not None
        async with aiohttp.ClientSession() as http:
            for port in (ports.http, eport):
                fams = await scrape(http, port)
                assert fams["srs_streams"].value() == 0
            # SRS compat: shared, the API mux is the HTTP server's, so the exporter port has it all.
            versions = await get_json(http, f"http://127.0.0.1:{eport}/api/v1/versions")
            assert versions["code"] == 0
    finally:
        await app.stop(graceful=False)
