"""heartbeat: periodic POSTs with SRS's payload to a real receiver; interval, reload, error logs."""

from __future__ import annotations

import asyncio
import itertools
import logging
from pathlib import Path

import pytest

from srs import SIGNATURE
from srs.config import parse_text
from srs.control.heartbeat import device_ip, ports_of
from support.net import free_port
from support.server import render_conf

from .conftest import start_app
from .test_hooks_receiver import Receiver


def heartbeat(
    url: str, *, interval: int = 1, summaries: str = "off", ports: str = "off", on: str = "on"
) -> str:
    return (
        f"heartbeat {{\n    enabled {on};\n    interval {interval};\n    url {url};\n"
        f"    device_id dev-42;\n    summaries {summaries};\n    ports {ports};\n}}\n"
    )


async def test_periodic_posts_with_exact_payload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRS_DEVICE_IP", "10.9.8.7")
    rx = await Receiver().start()
    r = await start_app(tmp_path, extra=heartbeat(rx.url("/api/v1/servers?x=1"), summaries="on", ports="on"))
    ident = r.ctx.identity
    try:
        await asyncio.sleep(0.5)
        assert rx.calls == []  # the first beat is one interval after start, as SRS's timer
        deadline = asyncio.get_running_loop().time() + 5
        while len(rx.calls) < 3 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        calls = rx.calls[:3]
        assert len(calls) == 3
        gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
        assert all(0.8 < g < 1.6 for g in gaps), gaps  # interval 1 s
        c = calls[0]
        assert (c.method, c.path, c.query) == ("POST", "/api/v1/servers", "x=1")
        assert c.headers["Content-Type"] == "application/json"
        assert c.headers["User-Agent"] == SIGNATURE
        body = c.json
        assert list(body)[:5] == ["device_id", "ip", "server", "service", "pid"]
        assert body["device_id"] == "dev-42"
        assert body["ip"] == "10.9.8.7"
        assert (body["server"], body["service"], body["pid"]) == (
            ident.server_id,
            ident.service_id,
            str(ident.pid),
        )
        data = body["summaries"]["data"]
        assert data["ok"] is True and isinstance(data["now_ms"], int)
        assert data["self"]["pid"] == ident.pid
        assert {"cpu_percent", "mem_ram_kbyte", "load_1m", "conn_srs"} <= set(data["system"])
        assert body["rtmp"] == [str(r.ports.rtmp)]
        assert body["http"] == [str(r.ports.http)]
        assert body["api"] == [str(r.ports.api)]
        assert "srt" not in body and "rtc" not in body
    finally:
        await r.app.stop(graceful=False)
        await rx.stop()


async def test_minimal_payload_and_reload_off(tmp_path: Path) -> None:
    rx = await Receiver().start()
    r = await start_app(tmp_path, extra=heartbeat(rx.url("/hb")))
    try:
        while not rx.calls:
            await asyncio.sleep(0.05)
        assert set(rx.calls[0].json) == {"device_id", "ip", "server", "service", "pid"}
        assert isinstance(rx.calls[0].json["ip"], str)
        # reload: heartbeat off -> no more POSTs
        conf = render_conf(r.ports, extra=heartbeat(rx.url("/hb"), on="off"))
        assert (await r.app.reload(parse_text(conf.replace("./objs/nginx/html", str(tmp_path))))).ok
        await asyncio.sleep(1.2)  # a beat may have been on its way
        n = len(rx.calls)
        await asyncio.sleep(1.5)
        assert len(rx.calls) == n
        # and on again, to another URL
        conf = render_conf(r.ports, extra=heartbeat(rx.url("/hb2")))
        assert (await r.app.reload(parse_text(conf.replace("./objs/nginx/html", str(tmp_path))))).ok
        deadline = asyncio.get_running_loop().time() + 4
        while not [c for c in rx.calls if c.path == "/hb2"]:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
    finally:
        await r.app.stop(graceful=False)
        await rx.stop()


async def test_unreachable_target_is_logged_once(tmp_path: Path) -> None:
    lines: list[str] = []

    class H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    h = H(logging.DEBUG)
    logging.getLogger("srs").addHandler(h)
    r = await start_app(tmp_path, extra=heartbeat(f"http://127.0.0.1:{free_port()}/hb"))
    try:
        await asyncio.sleep(3.4)
        failures = [x for x in lines if x.startswith("heartbeat to")]
        assert len(failures) == 1, failures
        assert "failed" in failures[0]
        assert r.app.heartbeat.sent == 0
    finally:
        logging.getLogger("srs").removeHandler(h)
        await r.app.stop(graceful=False)


def test_ports_and_device_ip_helpers() -> None:
    conf = """
listen 1935 127.0.0.1:19350;
http_api { enabled on; listen 1985; }
http_server { enabled off; }
srt_server { enabled on; listen 10080; }
rtc_server { enabled on; listen 8000; tcp { enabled on; listen 8001; } }
stats { network 0; }
vhost __defaultVhost__ { }
"""
    cfg = parse_text(conf)
    assert ports_of(cfg) == {
        "rtmp": ["1935", "127.0.0.1:19350"],
        "api": ["1985"],
        "srt": ["udp://0.0.0.0:10080"],
        "rtc": ["udp://0.0.0.0:8000", "tcp://0.0.0.0:8001"],
    }
    assert device_ip(0, {"SRS_DEVICE_IP": "1.2.3.4"}) == "1.2.3.4"
    ip = device_ip(0, {})
    assert ip == "" or ip.count(".") == 3
