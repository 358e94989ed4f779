"""Reload applies vhost, play-tuning, http_remux and listener changes without dropping clients."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from srs.config import parse_text
from srs.format import flv
from srs.media.jitter import JitterAlgorithm
from support.media import clip
from support.net import free_ports
from support.rtmp_client import RtmpClient, flv_tags
from support.server import DEFAULT_VHOST_BODY, Ports, render_conf

from .conftest import Running, start_app

AV = [t for t in flv_tags(clip("bbb.flv")) if t.tag_type != flv.TagType.SCRIPT]


def conf_for(
    r: Running,
    *,
    rtmp: str | None = None,
    http: int | None = None,
    vhost_body: str = DEFAULT_VHOST_BODY,
    extra: str = "",
) -> str:
    ports = Ports.__new__(Ports)
    ports.rtmp, ports.http, ports.api = r.ports.rtmp, http or r.ports.http, r.ports.api
    text = render_conf(ports, vhost_body=vhost_body, extra=extra)
    if rtmp is not None:
        text = text.replace(f"listen              {r.ports.rtmp};", f"listen {rtmp};")
    return text.replace("./objs/nginx/html", str(r.workdir / "html"))


class Flow:
    """A publisher streaming in real time (x4) and an RTMP player of it."""

    def __init__(self, port: int, stream: str) -> None:
        self.port = port
        self.stream = stream

    async def start(self) -> Flow:
        self.player = await RtmpClient.open(self.port)
        await self.player.play(self.stream)
        self.pub = await RtmpClient.open(self.port)
        await self.pub.publish(self.stream)
        self.task = asyncio.get_running_loop().create_task(self.pub.send_tags(AV, realtime=True, speed=4))
        await self.player.wait_media(10)
        return self

    async def flowing(self) -> None:
        n = len(self.player.media)
        await self.player.wait_media(n + 20, timeout_s=5)
        assert len(self.player.media) >= n + 20 and not self.player.closed.is_set()

    async def stop(self) -> None:
        self.task.cancel()
        await self.pub.close()
        await self.player.close()


async def test_rtmp_listen_ports_added_and_removed(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        flow = await Flow(r.ports.rtmp, "a").start()
        (extra_port,) = free_ports(1)
        res = await r.app.reload(parse_text(conf_for(r, rtmp=f"{r.ports.rtmp} {extra_port}")))
        assert res.ok and any("+" in c for c in res.changes)
        c2 = await RtmpClient.open(extra_port)  # the new port accepts
        await c2.close()
        await flow.flowing()
        # now drop the first port: new connections fail, the existing ones keep streaming
        res = await r.app.reload(parse_text(conf_for(r, rtmp=str(extra_port))))
        assert res.ok
        try:
            await asyncio.wait_for(asyncio.open_connection("127.0.0.1", r.ports.rtmp), 2)
            raise AssertionError("old port still accepts")
        except (ConnectionError, OSError):
            pass
        await flow.flowing()
        await flow.stop()
    finally:
        await r.app.stop(graceful=False)


async def test_http_server_port_change_keeps_flv_players(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        flow = await Flow(r.ports.rtmp, "h").start()
        async with aiohttp.ClientSession() as http:
            resp = await http.get(r.flv_url("h"))
            first = await resp.content.read(20000)
            assert first[:3] == b"FLV"
            (new_http,) = free_ports(1)
            res = await r.app.reload(parse_text(conf_for(r, http=new_http)))
            assert res.ok
            more = await asyncio.wait_for(resp.content.read(20000), 5)  # the old player still streams
            assert more
            resp2 = await http.get(f"http://127.0.0.1:{new_http}/live/h.flv")
            assert resp2.status == 200 and (await resp2.content.read(13))[:3] == b"FLV"
            resp2.close()
            resp.close()
        await flow.stop()
    finally:
        await r.app.stop(graceful=False)


async def test_vhost_added_changed_removed(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        base = await Flow(r.ports.rtmp, "base").start()
        v2 = "vhost v2.test { play { gop_cache off; queue_length 7; mw_latency 100; time_jitter zero; } }"
        res = await r.app.reload(parse_text(conf_for(r, extra=v2)))
        assert res.ok and "vhost +v2.test" in res.changes
        pub = await RtmpClient.open(r.ports.rtmp)
        await pub.publish("s?vhost=v2.test")
        src = r.ctx.registry.find("v2.test/live/s")
        assert src is not None
        assert (src.settings.gop_cache, src.settings.queue_length_ms, src.settings.mw_latency_ms) == (
            False,
            7000,
            100,
        )
        assert src.settings.time_jitter is JitterAlgorithm.ZERO
        # change the vhost: the running source gets the new play settings
        v2b = "vhost v2.test { play { gop_cache on; queue_length 12; mw_latency 200; time_jitter off; } }"
        res = await r.app.reload(parse_text(conf_for(r, extra=v2b)))
        assert res.ok and any(c.startswith("vhost ~v2.test") for c in res.changes)
        assert (src.settings.gop_cache, src.settings.queue_length_ms, src.settings.mw_latency_ms) == (
            True,
            12000,
            200,
        )
        assert src.settings.time_jitter is JitterAlgorithm.OFF
        # remove it: its clients are closed, the default vhost's keep going
        res = await r.app.reload(parse_text(conf_for(r)))
        assert res.ok and "vhost -v2.test" in res.changes
        await asyncio.wait_for(pub.closed.wait(), 5)
        await base.flowing()
        await base.stop()
    finally:
        await r.app.stop(graceful=False)


async def test_gop_cache_toggle_by_reload(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        flow = await Flow(r.ports.rtmp, "g").start()
        await asyncio.sleep(0.5)
        late = await RtmpClient.open(r.ports.rtmp)
        await late.play("g")
        media = await late.wait_media(3)
        assert flv.is_video_keyframe(media[2].payload)  # GOP cache: a keyframe after the headers
        await late.close()
        body = DEFAULT_VHOST_BODY + " play { gop_cache off; }"
        assert (await r.app.reload(parse_text(conf_for(r, vhost_body=body)))).ok
        src = r.ctx.registry.find("/live/g")
        assert src is not None and not src.settings.gop_cache and src.gop_cache_size == 0
        await flow.flowing()
        await flow.stop()
    finally:
        await r.app.stop(graceful=False)


async def test_http_remux_disabled_then_enabled(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        off = "http_remux { enabled off; }"
        assert (await r.app.reload(parse_text(conf_for(r, vhost_body=off)))).ok
        async with aiohttp.ClientSession() as http:
            resp = await http.get(r.flv_url("x"))
            assert resp.status == 404
            assert (await r.app.reload(parse_text(conf_for(r)))).ok
            resp = await http.get(r.flv_url("x"))
            assert resp.status == 200 and resp.headers["Content-Type"] == "video/x-flv"
            resp.close()
    finally:
        await r.app.stop(graceful=False)


async def test_bad_config_on_reload_keeps_running_config(tmp_path: Path) -> None:
    r = await start_app(tmp_path)
    try:
        conf_file = tmp_path / "srs.conf"
        conf_file.write_text("listen 1935;\nvhost x { bad_directive on; }\n")
        r.app.config_path = str(conf_file)
        res = await r.app.reload()
        assert not res.ok and "bad_directive" in res.message
        assert r.app.config.listen[0].port == r.ports.rtmp
    finally:
        await r.app.stop(graceful=False)
